# python3 pytorch_forecast.py model.pt model.json recent.csv: lstmcluster's forecast in plain PyTorch
import csv, json, math, sys, torch
from torch import nn

class Forecaster(nn.Module):  # nn.LSTM, then a linear head on the last step's hidden state
    def __init__(self, m):
        super().__init__()
        self.lstm = nn.LSTM(m["input_size"], m["hidden_size"], m["num_layers"], batch_first=True, dropout=m["dropout"])
        self.head = nn.Linear(m["hidden_size"], m["horizon"])
    def forward(self, x): return self.head(self.lstm(x)[0][:, -1, :])

state, meta, data = sys.argv[1:4]
d = json.load(open(meta)); p, sel, L, m = d["preprocessing"], d["data"], d["preprocessing"]["lookback"], d["preprocessing"]["season"]
model = Forecaster(d["model"]); model.load_state_dict(torch.load(state)); model.eval()
rows = [{k.strip().lower(): v for k, v in r.items()} for r in csv.DictReader(open(data, newline=""))]
rows = [r for r in rows if not sel["symbol"] or r[sel["symbol_column"].lower()].strip().lower() == sel["symbol"].lower()]
cols = [[float(r[c.strip().lower()]) for r in rows] for c in [sel["target"]] + sel["features"]]
log, o = p["transform"] == "LogReturn", len(cols[0]) - 1  # o: the last row, the forecast's origin
T = lambda c, i: math.log(cols[0][i] / cols[0][i - 1]) if c == 0 and log else cols[c][i]  # transformed value
anchor = lambda c: p["center"][c] if p["normalize"] == "Global" else T(c, o)  # subtracted from column c
scale = lambda c: p["scale"][c] if p["normalize"] != "WindowScaled" or L < 2 else max(  # divides column c
    sum(abs(T(c, i) - T(c, i - 1)) for i in range(o - L + 2, o + 1)) / (L - 1), 0.05 * p["scale"][c])
x = torch.tensor([[[(T(c, i) - anchor(c)) / scale(c) for c in range(len(cols))] for i in range(o - L + 1, o + 1)]])
with torch.no_grad(): out = model(x.float())[0].double().tolist()
level, forecast = cols[0][o], []
for k, z in enumerate(out):  # step k + 1 from its anchor: the last value, or (window-seasonal) one season back
    src = o + k + 1 - m * ((k + m) // m)
    seasonal = p["normalize"] == "WindowSeasonal" and m > 1 and k < len(p["seasonal_steps"]) and p["seasonal_steps"][k] and src >= log
    z = z * scale(0) + (T(0, src) if seasonal else anchor(0))
    level = level * math.exp(z) if log else z  # log returns compound from the last value
    forecast.append(level)
print(json.dumps({"normalized": out, "forecast": forecast}))
