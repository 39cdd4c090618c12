# python3 random_state_dict.py model.json out.pt [seed] [hidden_override]: a state_dict written by PyTorch itself,
# for the model described in model.json (PyTorch's default initialisation, so every tensor is non-zero),
# optionally for another hidden size, to test that import names a wrong shape.
import json, sys, torch
from torch import nn

m = json.load(open(sys.argv[1]))["model"]
torch.manual_seed(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
hidden = int(sys.argv[4]) if len(sys.argv) > 4 else m["hidden_size"]
net = nn.Module()
net.lstm = nn.LSTM(m["input_size"], hidden, m["num_layers"], batch_first=True)
net.head = nn.Linear(hidden, m["horizon"])
torch.save(net.state_dict(), sys.argv[2])
print(json.dumps({k: list(v.shape) for k, v in net.state_dict().items()}))
