"""A small PyTorch program, unchanged but for its imports, runs on graphc."""
from __future__ import annotations

import numpy as np

PROGRAM = '''
import graphc as torch
import graphc.nn as nn
import graphc.nn.functional as F
import graphc.optim as optim
from graphc.utils.data import DataLoader, TensorDataset

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, 1)
        self.bn = nn.BatchNorm2d(4)
        self.fc1 = nn.Linear(4 * 2 * 2, 16)
        self.fc2 = nn.Linear(16, 3)
        self.dropout = nn.Dropout(0.25)

    def forward(self, x):
        x = F.relu(self.bn(self.conv1(x)))
        x = F.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


images = torch.randn(60, 1, 6, 6)
labels = (images.mean(dim=(1, 2, 3)) > 0).long() + (images[:, 0, 0, 0] > 1).long()
loader = DataLoader(TensorDataset(images, labels), batch_size=16, shuffle=True)
model = Net().to(device)
optimizer = optim.Adam(model.parameters(), lr=1e-2)
scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.9)
for epoch in range(3):
    model.train()
    for data, target in loader:
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
    scheduler.step()
model.eval()
correct = 0
with torch.no_grad():
    for data, target in loader:
        output = model(data.to(device, dtype=torch.float))
        pred = output.argmax(dim=1, keepdim=True)
        correct += pred.eq(target.view_as(pred)).sum().item()
torch.save(model.state_dict(), PATH)
model2 = Net()
model2.load_state_dict(torch.load(PATH, map_location="cpu"))
model2.eval()
with torch.no_grad():
    same = torch.cat([model(images), model2(images)], dim=1)
'''


def test_pytorch_program_runs_unchanged(tmp_path):
    scope = {"PATH": str(tmp_path / "model.pt")}
    exec(compile(PROGRAM, "pytorch_program.py", "exec"), scope)
    assert 0 <= scope["correct"] <= 60
    same = scope["same"].numpy()
    np.testing.assert_array_equal(same[:, :3], same[:, 3:])
    assert scope["scheduler"].get_last_lr()[0] == 1e-2 * 0.9 ** 3
