"""Cross-check rnncourse.nn against PyTorch 2.13 without importing torch.

data/fixtures/torch/torch_crosscheck.json holds torch's own weights (torch
layout), inputs, outputs and gradients for torch.nn.LSTM, GRU and RNN in
float64; make_torch_fixtures.py in that folder wrote it. Agreement is
required to TORCH_TOL (max absolute difference).
"""

import json
from pathlib import Path

import numpy as np
import pytest

from rnncourse import nn

FIXTURE = (
    Path(__file__).resolve().parents[2] / "data" / "fixtures" / "torch" / "torch_crosscheck.json"
)
TORCH_TOL = 1e-10


@pytest.fixture(scope="module")
def cases():
    data = json.loads(FIXTURE.read_text())
    return {
        kind: {k: np.array(v) if isinstance(v, list) else v for k, v in case.items()}
        | {"params": {k: np.array(v) for k, v in case["params"].items()}}
        | {"grads": {k: np.array(v) for k, v in case["grads"].items()}}
        for kind, case in data["cases"].items()
    }


def torch_params(case):
    p = case["params"]
    return p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"]


def assert_close(ours, theirs, name):
    assert ours.shape == theirs.shape, name
    err = np.max(np.abs(ours - theirs))
    assert err < TORCH_TOL, f"{name}: max abs difference {err:.2e}"


def assert_weight_grads(case, dW_x, dW_h, db_x, db_h):
    g = case["grads"]
    assert_close(dW_x.T, g["weight_ih_l0"], "dweight_ih")  # torch stores the transpose
    assert_close(dW_h.T, g["weight_hh_l0"], "dweight_hh")
    assert_close(db_x, g["bias_ih_l0"], "dbias_ih")
    assert_close(db_h, g["bias_hh_l0"], "dbias_hh")


def test_torch_fixture_records_its_torch_version():
    """The fixture says which torch wrote it (2.13.0) and that it is float64, batch-first."""
    data = json.loads(FIXTURE.read_text())
    assert data["torch_version"].startswith("2.13.0")
    assert data["dtype"] == "float64" and data["batch_first"] is True


def test_lstm_matches_torch_outputs_and_gradients(cases):
    """Converted torch.nn.LSTM weights: h, c_T and all gradients (incl. dc0, with dc_T) match torch."""
    case = cases["lstm"]
    W_x, W_h, b = nn.lstm_params_from_torch(*torch_params(case))
    h, c_T, cache = nn.lstm_forward(
        case["x"], case["h0"], W_x, W_h, b, c0=case["c0"], return_state=True
    )
    assert_close(h, case["out"], "h")
    assert_close(h[:, -1], case["h_n"], "h_n")
    assert_close(c_T, case["c_n"], "c_n")
    dx, dh0, dW_x, dW_h, db, dc0 = nn.lstm_backward(
        case["dout"], cache, dc_T=case["dc_n"], return_dc0=True
    )
    assert_close(dx, case["dx"], "dx")
    assert_close(dh0, case["dh0"], "dh0")
    assert_close(dc0, case["dc0"], "dc0")
    assert_weight_grads(case, dW_x, dW_h, db, db)  # both torch biases get d(pre-activation)


def test_rnn_matches_torch_outputs_and_gradients(cases):
    """Converted torch.nn.RNN (tanh) weights: h and all gradients match torch."""
    case = cases["rnn"]
    params = nn.rnn_params_from_torch(*torch_params(case))
    h, cache = nn.rnn_forward(case["x"], case["h0"], *params)
    assert_close(h, case["out"], "h")
    dx, dh0, dW_xh, dW_hh, db_h = nn.rnn_backward(case["dout"], cache)
    assert_close(dx, case["dx"], "dx")
    assert_close(dh0, case["dh0"], "dh0")
    assert_weight_grads(case, dW_xh, dW_hh, db_h, db_h)


def test_gru_torch_convention_matches_torch(cases):
    """gru_torch_forward/backward on converted torch.nn.GRU weights reproduce torch exactly."""
    case = cases["gru"]
    W_x, W_h, b_x, b_h = nn.gru_params_from_torch(*torch_params(case))
    h, cache = nn.gru_torch_forward(case["x"], case["h0"], W_x, W_h, b_x, b_h)
    assert_close(h, case["out"], "h")
    dx, dh0, dW_x, dW_h, db_x, db_h = nn.gru_torch_backward(case["dout"], cache)
    assert_close(dx, case["dx"], "dx")
    assert_close(dh0, case["dh0"], "dh0")
    assert_weight_grads(case, dW_x, dW_h, db_x, db_h)


def test_gru_course_convention_differs_from_torch(cases):
    """The course GRU on the same converted weights (b = b_ih + b_hh) is a different function."""
    case = cases["gru"]
    W_x, W_h, b_x, b_h = nn.gru_params_from_torch(*torch_params(case))
    h, _ = nn.gru_forward(case["x"], case["h0"], W_x, W_h, b_x + b_h)
    assert np.max(np.abs(h - case["out"])) > 0.1
