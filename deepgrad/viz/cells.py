"""LSTM cell activations over text, after Karpathy, Johnson & Fei-Fei, "Visualizing and Understanding
Recurrent Networks": colour each character by tanh(c_t) of a cell, and find the cells that track
simple properties of the text (inside quotes, position in the line, indentation)."""
from __future__ import annotations

import html
import math

import deepgrad as dg


@dg.no_grad()
def cell_states(lstm, inputs) -> list:
    """tanh(c_t) of every layer of ``lstm`` (an ``nn.LSTM`` with batch_first inputs of shape (1, T, in)),
    computed step by step with PyTorch's gate order (i, f, g, o). Returns one (T, hidden) tensor per
    layer."""
    x = inputs[0]
    out = []
    for layer in range(lstm.num_layers):
        w_ih = getattr(lstm, f"weight_ih_l{layer}")
        w_hh = getattr(lstm, f"weight_hh_l{layer}")
        b = 0
        if getattr(lstm, "bias", True):
            b = getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")
        H = w_hh.shape[1]
        h = dg.zeros(H)
        c = dg.zeros(H)
        pre_x = x @ w_ih.T + b
        hs, cs = [], []
        for t in range(x.shape[0]):
            gates = pre_x[t] + w_hh @ h
            i, f = gates[:H].sigmoid(), gates[H:2 * H].sigmoid()
            g, o = gates[2 * H:3 * H].tanh(), gates[3 * H:].sigmoid()
            c = f * c + i * g
            h = o * c.tanh()
            hs.append(h)
            cs.append(c.tanh())
        out.append(dg.stack(cs))
        x = dg.stack(hs)
    return out


def text_features(text: str) -> dict:
    """Per-character features of ``text``: inside double or single quotes, position in the line
    (characters since the last newline), indentation depth of the current line, inside parentheses."""
    quote = []
    inside = False
    pos, indent, paren = [], [], []
    col, depth, line_indent, counting = 0, 0, 0, True
    for ch in text:
        if ch == '"':
            inside = not inside
        quote.append(1.0 if inside else 0.0)
        if ch == "\n":
            col, line_indent, counting = 0, 0, True
        else:
            col += 1
            if counting and ch in " \t":
                line_indent += 1
            else:
                counting = False
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        pos.append(float(col))
        indent.append(float(line_indent))
        paren.append(float(depth))
    return {"inside quotes": quote, "position in line": pos, "indentation": indent,
            "inside parentheses": paren}


def _corr(a: list, b: list) -> float:
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    if va == 0 or vb == 0:
        return 0.0
    return sum((x - ma) * (y - mb) for x, y in zip(a, b)) / math.sqrt(va * vb)


def feature_correlations(states, text: str, top: int = 5) -> dict:
    """For each text feature, the ``top`` cells (layer, index, correlation) whose activation
    correlates most (in absolute value) with it."""
    feats = text_features(text)
    ranking = {}
    for name, values in feats.items():
        scored = []
        for layer, s in enumerate(states):
            columns = s.T.tolist()
            for idx, col in enumerate(columns):
                scored.append((layer, idx, _corr(col, values)))
        scored.sort(key=lambda r: -abs(r[2]))
        ranking[name] = scored[:top]
    return ranking


def _colour(v: float) -> str:
    """-1 -> red, 0 -> white, +1 -> blue."""
    v = max(-1.0, min(1.0, v))
    if v < 0:
        k = int(255 * (1 + v))
        return f"rgb(255,{k},{k})"
    k = int(255 * (1 - v))
    return f"rgb({k},{k},255)"


def render_cells_html(text: str, states, cells, ranking: dict | None = None) -> str:
    """An HTML page with one block per chosen (layer, cell): each character coloured by tanh(c)."""
    parts = ["<!doctype html><meta charset='utf-8'><title>deepgrad: LSTM cell activations</title>",
             "<style>body{font-family:sans-serif} .t{font-family:monospace;white-space:pre-wrap;"
             "line-height:1.4;border:1px solid #ccc;padding:6px;margin-bottom:18px}</style>",
             "<h1>LSTM cell activations</h1><p>Each character is coloured by tanh(c<sub>t</sub>) of one "
             "cell after reading it: red = -1, white = 0, blue = +1.</p>"]
    if ranking:
        parts.append("<h2>Cells that track text features</h2><table border=1 cellpadding=4>"
                     "<tr><th>feature</th><th>layer</th><th>cell</th><th>correlation</th></tr>")
        for name, rows in ranking.items():
            for layer, idx, r in rows:
                parts.append(f"<tr><td>{html.escape(name)}</td><td>{layer}</td><td>{idx}</td>"
                             f"<td>{r:+.3f}</td></tr>")
        parts.append("</table>")
    for layer, idx in cells:
        acts = states[layer][:, idx].tolist()
        spans = "".join(f"<span style='background:{_colour(a)}' title='{a:+.2f}'>"
                        f"{html.escape(ch) if ch != chr(10) else '&#8629;' + chr(10)}</span>"
                        for ch, a in zip(text, acts))
        parts.append(f"<h3>layer {layer}, cell {idx}</h3><div class='t'>{spans}</div>")
    return "\n".join(parts)
