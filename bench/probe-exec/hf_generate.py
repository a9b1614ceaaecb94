"""probe exec proof 3: transformers' generate on a tiny random-init decoder (Llama shape), greedy,
64 new tokens. Run under --step on the decoder's forward to get the per-token syncs of the loop."""
import torch
from transformers import LlamaConfig, LlamaForCausalLM

torch.manual_seed(0)
config = LlamaConfig(
    vocab_size=1000, hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, max_position_embeddings=512, pad_token_id=0, eos_token_id=999,
)
model = LlamaForCausalLM(config).to("cuda").eval()
prompt = torch.randint(1, 998, (2, 16), device="cuda")
with torch.inference_mode():
    out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=64, min_new_tokens=64, do_sample=False)
print("generated", tuple(out.shape))
