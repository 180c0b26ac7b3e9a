#!/usr/bin/env python3
"""Writes the bad-input corpus under fixtures/broken/ (dev-only; the files are committed).

Each file shows one way a log can be damaged or odd; tests/broken_corpus.rs states the outcome
expected of each. Inputs that cannot live in git (a 10 MB line, a symlink loop, a file without
read permission, a log still being written) are made by that test at run time.
Re-run after changing a file: python3 tools/make_broken.py
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "broken")
HEADER = "epoch,itr,loss,loss-jepa,reg-loss,enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms)"


def rows(n, start=0, ipe=50):
    """V-JEPA rows of a gently falling loss."""
    out = []
    for k in range(start, start + n):
        loss = 0.8 * 0.997 ** k + 0.1
        reg = 0.9 - 0.002 * k
        out.append(f"{k // ipe + 1},{k % ipe},{loss:.5f},{loss:.5f},{reg:.5f},0.00000,0.00000,"
                   f"{400 + k % 7},{404 + k % 5}")
    return out


def write(name, text, mode="w"):
    path = os.path.join(OUT, name)
    if isinstance(text, bytes):
        with open(path, "wb") as f:
            f.write(text)
    else:
        with open(path, mode, newline="") as f:
            f.write(text)


def vjepa(lines, eol="\n"):
    return eol.join([HEADER] + lines) + eol


def main():
    os.makedirs(OUT, exist_ok=True)
    random.seed(8)

    # Bytes that are no log at all.
    write("binary_garbage.bin", bytes(random.randrange(256) for _ in range(4096)))
    write("nul_bytes.csv", ("step,loss\n0,0.5\n1,0.4\n").encode() + b"\x00" * 64 + b"\n2,0.3\n")
    write("utf16_le.csv", "\ufeffstep,loss\n0,0.5\n1,0.4\n".encode("utf-16-le"))

    # Encodings and line endings a healthy log may have.
    write("bom.csv", "\ufeff" + vjepa(rows(120)))
    write("crlf.csv", vjepa(rows(120), eol="\r\n"))
    write("crlf_bom_generic.csv", "\ufeffstep,loss\r\n" + "".join(
        f"{k},{0.9 * 0.99 ** k:.5f}\r\n" for k in range(150)))

    # Rows that do not fit the header.
    body = rows(120)
    body[60] = body[60].replace(",", "\t", 3)
    write("mixed_delimiters.csv", vjepa(body))
    body = rows(120)
    body[40] = body[40] + ",7,8"
    write("extra_fields_mid_file.csv", vjepa(body))

    # Quoting.
    write("quoted_commas.csv", "step,loss,note\n" + "".join(
        f'{k},{0.9 * 0.99 ** k:.5f},"lr=1e-3, wd=0.04"\n' for k in range(150)))
    write("quoted_numbers.csv", "step,loss\n" + "".join(
        f'"{k}","{0.9 * 0.99 ** k:.5f}"\n' for k in range(150)))
    write("locale_thousands.csv", "step,loss\n" + "".join(
        f'"{1000 + k:,}",{0.9 * 0.99 ** k:.5f}\n' for k in range(150)))
    write("locale_decimal_comma.csv", "step;loss\n" + "".join(
        f"{k};{0.9 * 0.99 ** k:.5f}\n".replace(".", ",") for k in range(150)))

    # Numbers at the edges.
    body = rows(150)
    body[70] = body[70].replace(body[70].split(",")[3], "1e309", 1)
    write("overflow_1e309.csv", vjepa(body))
    write("signed_zero_and_inf.csv", "step,loss,grad\n" + "".join(
        f"{k},{0.9 * 0.99 ** k:.5f},{['-0', '+inf', '-inf', '0.5'][k % 4]}\n" for k in range(150)))
    write("nan_spellings.csv", "step,loss\n" + "".join(
        f"{k},{['NaN', 'nan', 'NAN', '-nan', 'inf', 'Infinity'][k % 6] if k % 10 == 9 else f'{0.9 * 0.99 ** k:.5f}'}\n"
        for k in range(150)))
    write("all_nan_loss.csv", vjepa([",".join(r.split(",")[:2] + ["nan", "nan"] + r.split(",")[4:])
                                     for r in rows(100)]))
    write("step_edge_values.csv", "step,loss\n0,0.9\n18446744073709551615,0.8\n")
    write("negative_step.csv", "step,loss\n-5,0.9\n0,0.8\n5,0.7\n")
    write("fractional_step.csv", "step,loss\n0.5,0.9\n1.5,0.8\n")
    write("single_row.csv", vjepa(rows(1)))
    write("duplicate_steps.csv", "step,loss\n" + "".join(
        f"{k // 2},{0.9 * 0.99 ** k:.5f}\n" for k in range(200)))
    write("blank_lines_everywhere.csv", "\n\n" + vjepa(rows(100)).replace("\n", "\n\n"))
    write("trailing_garbage_line.csv", vjepa(rows(100)) + "Traceback (most recent call last):\n")

    # JSON.
    recs = [{"step": k, "loss": round(0.9 * 0.99 ** k, 5), "reg": round(0.5 - 0.001 * k, 5)}
            for k in range(150)]
    text = "\n".join(json.dumps(r) for r in recs) + "\n"
    tokens = {60: ("loss", "NaN"), 61: ("loss", "NaN"), 90: ("reg", "Infinity"),
              91: ("reg", "-Infinity"), 120: ("loss", "Infinity")}
    write("json_nan_tokens.jsonl", "".join(
        json.dumps(r).replace(f'"{tokens[k][0]}": {json.dumps(r[tokens[k][0]])}',
                              f'"{tokens[k][0]}": {tokens[k][1]}') + "\n" if k in tokens
        else json.dumps(r) + "\n" for k, r in enumerate(recs)))
    lines = text.splitlines()
    lines[10] = lines[10][:-5]                     # cut mid-record
    lines[20] = "this is not json"
    lines[30] = '{"step": 30, "loss": 1e400}'     # out of f64 range
    lines[40] = "[1, 2, 3]"                        # not an object
    write("jsonl_damaged_lines.jsonl", "\n".join(lines) + "\n")
    write("json_duplicate_keys.jsonl", "".join(
        f'{{"step": {k}, "loss": 9.9, "loss": {0.9 * 0.99 ** k:.5f}}}\n' for k in range(150)))
    write("json_deeply_nested.json", "[" * 100_000 + "]" * 100_000)
    write("json_deep_record.jsonl", '{"step": 0, "a": ' + '{"b": ' * 5000 + "1" + "}" * 5000 + "}\n")
    write("json_empty_array.json", "[]\n")
    write("json_truncated_mid_string.jsonl", text + '{"step": 150, "loss": 0.2, "no')

    # Console output.
    ansi = "\x1b[32m"
    reset = "\x1b[0m"
    out = ["INFO:root:iterations per epoch/dataest length: 50/1600"]
    for k in range(150):
        e, i = k // 50 + 1, k % 50
        avg = 0.8 * 0.997 ** k + 0.1
        if i % 10 == 0:
            out.append(f"{ansi}INFO:root:[{e}, {i:5d}] loss: {avg:.3f} | p{avg:.3f} r0.500 | "
                       f"input_var: 0.999 0.999 | masks: [88.0, 22.0] [wd: 4.00e-02] [lr: 1.00e-04] "
                       f"[mem: 1.0e+04] [gpu: 300.0 ms][wall: 310.0 ms]{reset}")
        if k == 75:
            out += ["Traceback (most recent call last):",
                    '  File "train.py", line 512, in <module>',
                    "    main()",
                    "RuntimeError: CUDA error: an illegal memory access was encountered",
                    f"{ansi}\x1b[1mWARNING{reset}: restarting from checkpoint"]
    write("console_tracebacks_ansi.log", "\n".join(out) + "\n")
    write("console_no_loss_lines.log", "INFO:root:loading data\nINFO:root:done\n" * 20)

    # Run directories and configs.
    os.makedirs(os.path.join(OUT, "dir_without_logs"), exist_ok=True)
    write("dir_without_logs/README.txt", "notes about the run\n")
    write("dir_without_logs/model.pt.txt", "not a log\n")
    os.makedirs(os.path.join(OUT, "params_not_mapping"), exist_ok=True)
    write("params_not_mapping/jepa_r0.csv", vjepa(rows(120)))
    write("params_not_mapping/params-pretrain.yaml", "- lr: 0.001\n- epochs: 10\n")
    os.makedirs(os.path.join(OUT, "params_unknown_keys"), exist_ok=True)
    write("params_unknown_keys/jepa_r0.csv", vjepa(rows(120)))
    write("params_unknown_keys/params-pretrain.yaml",
          "optimization:\n  lr: 0.000625\n  epochs: 3\n  ipe: 50\n  warmup: 1\n"
          "  my_new_knob: true\nexperimental:\n  anything: [1, 2]\n")
    os.makedirs(os.path.join(OUT, "params_invalid_yaml"), exist_ok=True)
    write("params_invalid_yaml/jepa_r0.csv", vjepa(rows(120)))
    write("params_invalid_yaml/params-pretrain.yaml", "optimization:\n  lr: [0.1\n  epochs: 3\n")


if __name__ == "__main__":
    main()
