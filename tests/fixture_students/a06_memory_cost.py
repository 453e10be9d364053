"""Lesson 6."""

ANSWERS = {
    "kv_cache_bytes": {
        "alternative": '''
            def kv_cache_bytes(shape, tokens, bytes_per_element):
                head_size = shape["hidden_size"] // shape["num_attention_heads"]
                per_layer = 0
                for _ in ("keys", "values"):
                    per_layer += shape["num_key_value_heads"] * head_size * tokens * bytes_per_element
                total = 0
                for _ in range(shape["num_hidden_layers"]):
                    total += per_layer
                return np.int64(total)                 # a NumPy int: the text allows it
        ''',
        "hardcoded": '''
            def kv_cache_bytes(shape, tokens, bytes_per_element):
                return 1_843_200   # SmolLM2's cache after the self-check's 40 tokens, in float32
        ''',
        "delegating": '''
            from transformers import LlamaConfig

            from specdec_lite.memory import kv_cache_bytes as _library_bytes


            def kv_cache_bytes(shape, tokens, bytes_per_element):
                dtype = {1: torch.int8, 2: torch.float16, 4: torch.float32}[bytes_per_element]
                return _library_bytes(LlamaConfig(**shape), tokens, dtype)
        ''',
    },
    "pair_memory": {
        "alternative": '''
            def pair_memory(draft_shape, target_shape, tokens, weight_bytes=2, cache_bytes=2):
                out = {}
                for role, shape in (("target", target_shape), ("draft", draft_shape)):
                    out[f"{role} weights"] = round(llama_parameter_count(shape) * weight_bytes)
                    out[f"{role} KV cache"] = int(kv_cache_bytes(shape, tokens, cache_bytes))
                return out
        ''',
        "hardcoded": '''
            def pair_memory(draft_shape, target_shape, tokens, weight_bytes=2, cache_bytes=2):
                return {"target weights": int(gpu_big["target_weights_bytes"]),   # the H100's measured figures
                        "draft weights": int(gpu_big["draft_weights_bytes"]),
                        "target KV cache": int(gpu_big["target_kv_measured_bytes"]),
                        "draft KV cache": int(gpu_big["draft_kv_measured_bytes"])}
        ''',
        "delegating": '''
            from transformers import LlamaConfig

            from specdec_lite import memory


            def pair_memory(draft_shape, target_shape, tokens, weight_bytes=2, cache_bytes=2):
                dtype = {1: torch.int8, 2: torch.float16, 4: torch.float32}[cache_bytes]
                out = {}
                for role, shape in (("target", target_shape), ("draft", draft_shape)):
                    config = LlamaConfig(**shape)
                    out[f"{role} weights"] = int(memory.llama_parameter_count(config) * weight_bytes)
                    out[f"{role} KV cache"] = memory.kv_cache_bytes(config, tokens, dtype)
                return out
        ''',
    },
}
