"""How the bundled sample submissions of each lesson differ from its solution.

Read by :mod:`autograder.grading.samples`; a lesson without an entry still gets
the samples that need no edit (full, untouched, renamed, ...).

* ``partial``: the exercises a partly done notebook has solved (the others
  keep the release's stub). Pick exercises the others do not call.
* ``mistakes``: per exercise, a textual edit ``(old, new)`` of its solution
  cell that makes a catalogued mistake (``mistake`` names it; the grader must
  diagnose it). Pick exercises no other exercise calls, so that each edit
  costs exactly that exercise's points.
"""

SAMPLE_EDITS: dict[str, dict] = {
    "01_rnn_cell": {
        "partial": ("rnn_step_forward", "softmax", "count_rnn_parameters"),
        "mistakes": {
            "jordan_step_forward": {"old": "y_prev @ W_yh + b_h)  # (N, H)", "new": "y_prev @ W_yh)  # (N, H)", "mistake": "no_bias"},
            "count_rnn_parameters": {
                "old": "D * H + H * H + H + H * V + V",
                "new": "D * H + H * H + H * V",
                "mistake": "no_biases",
            },
        },
    },
    "02_bptt": {
        "partial": ("rnn_step_backward", "numerical_gradient", "clip_by_global_norm"),
        "mistakes": {
            "relative_error": {
                "old": "np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8))",
                "new": "np.max(np.abs(a - b))",
                "mistake": "absolute_error",
            },
            "clip_by_global_norm": {
                "old": "scale = max_norm / total_norm if total_norm > max_norm else 1.0",
                "new": "scale = max_norm / total_norm",
                "mistake": "always_scales",
            },
        },
    },
    "03_lstm": {
        "partial": ("lstm_step_forward", "peephole_lstm_step_forward", "count_lstm_parameters"),
        "mistakes": {
            "lstm_backward": {
                "old": "dh[:, t] + dh_prev, dc_prev, cache[t]",
                "new": "dh[:, t] + dh_prev, np.zeros_like(dc_prev), cache[t]",
                "mistake": "dc_not_carried",
            },
            "peephole_lstm_step_forward": {
                "old": "o = sigmoid(a[:, 3 * H :] + c_next * p_o)",
                "new": "o = sigmoid(a[:, 3 * H :] + c_prev * p_o)",
                "mistake": "o_peeks_at_c_prev",
            },
        },
    },
    "04_gru": {
        "partial": ("gru_step_forward", "gru_torch_step_forward", "gru_weights_from_keras"),
        "mistakes": {
            "gru_torch_step_forward": {
                "old": "h_next = (1.0 - z) * n + z * h_prev",
                "new": "h_next = (1.0 - z) * h_prev + z * n",
                "mistake": "z_course_side",
            },
            "gru_weights_from_keras": {
                "old": "b_x, b_h = to_rzn(bias[0]), to_rzn(bias[1])",
                "new": "b_x, b_h = to_rzn(bias[1]), to_rzn(bias[0])",
                "mistake": "biases_swapped",
            },
        },
    },
    "05_deep_bidirectional": {
        "partial": ("stacked_rnn_forward", "bidirectional_rnn_forward"),
        "mistakes": {
            "stacked_rnn_backward": {
                "old": "dx, dh0s, dparams = dh, dh0s[::-1], dparams[::-1]",
                "new": "dx, dh0s, dparams = dh, dh0s, dparams[::-1]",
                "mistake": "dh0s_reversed",
            },
            "bidirectional_rnn_backward": {
                "old": "dx = dx_f + dx_b_reversed[:, ::-1]  # x fed both passes",
                "new": "dx = dx_f + dx_b_reversed  # x fed both passes",
                "mistake": "dx_b_not_reversed",
            },
        },
    },
    "06_time_series": {
        "partial": ("resample_to_grid", "make_windows", "baseline_forecasts"),
        "mistakes": {
            "forecast_errors": {
                "old": "rmse = np.sqrt(np.mean(e**2))",
                "new": "rmse = np.mean(e**2)",
                "mistake": "mse_not_rmse",
            },
            "rolling_origin_folds": {
                "old": "range(initial, n - horizon + 1, step)",
                "new": "range(initial, n - horizon, step)",
                "mistake": "last_fold_missing",
            },
        },
    },
    "07_language_model": {
        "partial": ("embedding_forward", "perplexity", "softmax_with_temperature"),
        "mistakes": {
            "stream_batches": {
                "old": "y = ids[1 : N * S + 1].reshape(N, S)[:, : K * T]",
                "new": "y = ids[: N * S].reshape(N, S)[:, : K * T]",
                "mistake": "not_shifted",
            },
            "bigram_probs": {
                "old": "np.add.at(counts, (ids[:-1], ids[1:]), 1.0)",
                "new": "counts[ids[:-1], ids[1:]] += 1.0",
                "mistake": "repeats_lost",
            },
        },
    },
    "08_sentiment": {
        "partial": ("pad_batch", "bag_of_words", "sigmoid_cross_entropy"),
        "mistakes": {
            "sigmoid_cross_entropy": {
                "old": "dlogits = (probs - y) / N",
                "new": "dlogits = (y - probs) / N",
                "mistake": "gradient_sign",
            },
            "masked_mean_backward": {
                "old": "dh = m * (dh_mean / count)[:, None, :]  # (N, T, H): zero at padding",
                "new": "dh = np.broadcast_to((dh_mean / count)[:, None, :], m.shape[:2] + dh_mean.shape[1:]).copy()",
                "mistake": "leaks_into_padding",
            },
        },
    },
    "09_seq2seq_attention": {
        "partial": (
            "teacher_forcing_batch",
            "greedy_decode",
            "additive_attention_forward",
            "scaled_dot_attention_forward",
        ),
        "mistakes": {
            "teacher_forced_loss": {
                "old": "loss = float(np.sum(nll * mask) / np.sum(mask))",
                "new": "loss = float(np.mean(nll))",
                "mistake": "padding_counted",
            },
            "attention_decoder_step": {
                "old": "s_next[:, None], enc, src_mask",
                "new": "s_prev[:, None], enc, src_mask",
                "mistake": "query_previous_state",
            },
        },
    },
}
