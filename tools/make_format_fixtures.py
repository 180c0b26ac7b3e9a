#!/usr/bin/env python3
"""Writes fixtures/formats/: one small run written by each real logging library (dev-only; the
files are committed, CI never runs this).

    python3 tools/make_format_fixtures.py [--venv DIR]
    python3 tools/make_format_fixtures.py --text-only     # only the text files below (no venv)
    python3 tools/make_format_fixtures.py --only mlflow   # only the MLflow stores
    python3 tools/make_format_fixtures.py --only wandb    # only wandb_two_runs/

Creates a throwaway virtualenv (default: a temporary folder; `--venv` to reuse one), installs the
writers there (tensorboardX, tensorboard, mlflow-skinny + SQLAlchemy/alembic; no torch, no
TensorFlow), and re-runs itself inside it. The run is the same everywhere: 300 logged steps of a
JEPA loss that descends then rebounds while the reg-loss keeps falling, with a warmup + cosine LR,
so that tests/ingest_formats.rs can check that every format gives the same series, roles and
verdict. Values are rounded to float32 first, so every format stores exactly the same numbers.

What is written by which writer:
- same_run/reference.csv                   Python's csv module (the reference)
- same_run/tensorboard/                    tensorboardX.SummaryWriter.add_scalar (simple_value)
- same_run/tensorboard_tensor/             tensorboard's EventFileWriter (the writer torch.utils.tensorboard
                                           uses) with torch's `new_style=True` summaries: rank-0 tensors
                                           (float_val; reg-loss with double_val as `double_precision=True`;
                                           lr as tensor_content)
- same_run/mlruns/                         mlflow file store (MlflowClient.log_batch)
- same_run/mlflow.db                       mlflow SQLite store
- same_run/wandb/                          wandb.init(mode="offline") + run.log: the run-*.wandb
                                           transaction log (only that file kept) and latest-run link
- same_run/wandb_export_hand_copy.csv      W&B "Download CSV" layout, made by hand (a UI export)
- same_run/hydra_train_hand_copy.log       fairseq-hydra train_inner lines, made by hand
- same_run/metrics.jsonl                   JSON lines ({"step": …, "loss": …}), Python's json module
- same_run/console_hand_copy.log           V-JEPA console lines (`[epoch, itr] loss: … | p… r… |`,
                                           running means since the epoch's start), made by hand with
                                           10 decimals instead of V-JEPA's 3 so the window means
                                           recovered from them are the same values
- same_run/framework/                      the same run in framework layouts, made by hand after
                                           their writers (Lightning metrics.csv with on_step,
                                           MMEngine scalars.json, DINOv2 training_metrics.json, HF
                                           checkpoint-N/trainer_state.json), metric names as logged
- wandb_two_runs/wandb/                     two wandb.init(mode="offline") runs, lr_1e-3 and lr_3e-3
                                           (the second's values × 1.2), latest-run links lr_3e-3
- tensorboard/add_scalars/                 tensorboardX add_scalars('loss', {'jepa', 'reg'}) sub-writers
- tensorboard/two_runs/                    two runs under one log dir
- tensorboard/truncated_last_record/       a copy of a real file cut inside its last record
- tensorboard/bad_crc_mid_file/            a copy of a real file with one payload byte flipped
- mlflow_two_runs/mlruns/, mlflow_two_runs/mlflow.db   two runs in one store, logged with the
                                           param names of a Hugging Face-style script
                                           (learning_rate 1e-3 / 3e-3, warmup_steps, weight_decay)
- framework/*_hand_copy*                   layouts of frameworks too heavy to install here (torch,
                                           Lightning, Keras, MMEngine, DINOv2), written by hand after
                                           their writers' source: Lightning CSVLogger on_step/on_epoch
                                           (lightning_logs/version_N/metrics.csv), Keras CSVLogger,
                                           MMEngine vis_data/scalars.json, DINOv2 training_metrics.json,
                                           HF Trainer output_dir/checkpoint-N/trainer_state.json
"""
import csv
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.abspath(os.path.join(HERE, "..", "fixtures", "formats"))
PACKAGES = ["tensorboardX==2.6.5", "tensorboard", "mlflow-skinny", "sqlalchemy", "alembic", "numpy", "wandb"]
TAGS = ["loss", "loss-jepa", "reg-loss", "lr"]


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def same_run(seed=14):
    """Rows (step, loss, loss-jepa, reg-loss, lr): descent, minimum near step 250, rebound."""
    rng = random.Random(seed)
    rows = []
    for i in range(300):
        s = 2 * i
        jepa = 0.45 + 0.5 * math.exp(-s / 60)
        if s > 250:
            jepa += 0.15 * (1 - math.exp(-(s - 250) / 150))
        jepa += rng.gauss(0, 0.004)
        reg = 0.02 + 0.3 * math.exp(-s / 300) + rng.gauss(0, 0.002)
        if s < 50:
            lr = 1e-3 * s / 50
        else:
            lr = 1e-6 + 0.5 * (1e-3 - 1e-6) * (1 + math.cos(math.pi * (s - 50) / 550))
        rows.append((s, f32(jepa), f32(jepa), f32(reg), f32(lr)))
    return rows


def ensure_venv():
    if os.environ.get("JEPA_FIXTURE_VENV_READY") or "--text-only" in sys.argv:
        return
    venv = None
    if "--venv" in sys.argv:
        venv = sys.argv[sys.argv.index("--venv") + 1]
    if venv is None:
        venv = tempfile.mkdtemp(prefix="jepa-fixture-venv-")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
    subprocess.check_call([py, "-m", "pip", "install", "-q", *PACKAGES])
    env = dict(os.environ, JEPA_FIXTURE_VENV_READY="1")
    sys.exit(subprocess.call([py, os.path.abspath(__file__), *sys.argv[1:]], env=env))


def fresh(path):
    if os.path.exists(path):
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return path


def write_reference(rows, path):
    with open(fresh(path), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["step", *TAGS])
        for r in rows:
            w.writerow([r[0], *(repr(v) for v in r[1:])])


def write_tensorboardx(rows, logdir):
    from tensorboardX import SummaryWriter

    w = SummaryWriter(fresh(logdir), filename_suffix=".fixture")
    for r in rows:
        for tag, v in zip(TAGS, r[1:]):
            w.add_scalar(tag, v, r[0], walltime=1_700_000_000 + r[0])
    w.close()


def write_tensorboard_tensors(rows, logdir):
    """torch.utils.tensorboard.summary.scalar(new_style=True) logic, on tensorboard's writer."""
    import numpy as np
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.plugins.scalar.plugin_data_pb2 import ScalarPluginData
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    def scalar(name, value, kind):
        plugin = SummaryMetadata.PluginData(
            plugin_name="scalars", content=ScalarPluginData(version=0).SerializeToString()
        )
        meta = SummaryMetadata(plugin_data=plugin)
        if kind == "double":  # torch: double_precision=True
            t = TensorProto(double_val=[value], dtype="DT_DOUBLE", tensor_shape=TensorShapeProto())
        elif kind == "content":  # TF's make_tensor_proto packing: raw little-endian bytes
            t = TensorProto(
                tensor_content=np.float32(value).tobytes(),
                dtype="DT_FLOAT",
                tensor_shape=TensorShapeProto(),
            )
        else:  # torch: new_style=True
            t = TensorProto(float_val=[value], dtype="DT_FLOAT", tensor_shape=TensorShapeProto())
        return Summary.Value(tag=name, tensor=t, metadata=meta)

    kinds = {"loss": "float", "loss-jepa": "float", "reg-loss": "double", "lr": "content"}
    w = EventFileWriter(fresh(logdir), filename_suffix=".fixture")
    for r in rows:
        for tag, v in zip(TAGS, r[1:]):
            ev = Event(wall_time=1_700_000_000 + r[0], step=r[0],
                       summary=Summary(value=[scalar(tag, v, kinds[tag])]))
            w.add_event(ev)
    w.close()


def write_add_scalars(rows, logdir):
    from tensorboardX import SummaryWriter

    w = SummaryWriter(fresh(logdir), filename_suffix=".fixture")
    for r in rows:
        w.add_scalar("train/lr", r[4], r[0], walltime=1_700_000_000 + r[0])
        w.add_scalars("loss", {"jepa": r[2], "reg": r[3]}, r[0], walltime=1_700_000_000 + r[0])
    w.close()


def write_two_runs(rows, logdir):
    from tensorboardX import SummaryWriter

    fresh(logdir)
    for name, scale in (("lr_1e-3", 1.0), ("lr_3e-3", 1.1)):
        w = SummaryWriter(os.path.join(logdir, name), filename_suffix=".fixture")
        for r in rows[::3]:
            w.add_scalar("loss-jepa", r[2] * scale, r[0], walltime=1_700_000_000 + r[0])
        w.close()


def damaged_copies(src_dir, out_root):
    src = [os.path.join(src_dir, f) for f in sorted(os.listdir(src_dir)) if "tfevents" in f][0]
    data = open(src, "rb").read()
    name = os.path.basename(src)
    trunc = os.path.join(fresh(os.path.join(out_root, "truncated_last_record")), name)
    os.makedirs(os.path.dirname(trunc), exist_ok=True)
    open(trunc, "wb").write(data[:-7])
    bad = os.path.join(fresh(os.path.join(out_root, "bad_crc_mid_file")), name)
    os.makedirs(os.path.dirname(bad), exist_ok=True)
    # Walk the frames to the middle record and flip one byte of its payload.
    offsets, pos = [], 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack("<Q", data[pos:pos + 8])
        offsets.append((pos, length))
        pos += 12 + length + 4
    mid, length = offsets[len(offsets) // 2]
    flipped = bytearray(data)
    flipped[mid + 12 + length // 2] ^= 0x40
    open(bad, "wb").write(bytes(flipped))
    print(f"bad CRC at byte {mid}; truncated copy {len(data) - 7} of {len(data)} bytes")


def write_mlflow(runs, store_dir, db_path):
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 keeps the file store in maintenance mode
    import mlflow
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    # MLflow creates ./mlruns for the default experiment's artifacts: keep it in a scratch folder.
    os.chdir(tempfile.mkdtemp(prefix="jepa-fixture-cwd-"))
    for uri in (f"file:{fresh(store_dir)}", f"sqlite:///{fresh(db_path)}"):
        client = MlflowClient(tracking_uri=uri)
        exp = client.create_experiment("jepa")
        for run_name, rows, params in runs:
            run = client.create_run(exp, run_name=run_name, start_time=1_700_000_000_000)
            rid = run.info.run_id
            client.log_batch(rid, params=[Param(k, v) for k, v in params])
            metrics = [Metric(tag, float(v), 1_700_000_000_000 + r[0], r[0])
                       for r in rows for tag, v in zip(TAGS, r[1:])]
            for i in range(0, len(metrics), 900):
                client.log_batch(rid, metrics=metrics[i:i + 900])
            client.set_terminated(rid, end_time=1_700_000_600_000)
    # The file store records absolute artifact paths; make them relative to the fixture.
    for root, _, files in os.walk(store_dir):
        for f in files:
            if f == "meta.yaml":
                p = os.path.join(root, f)
                text = open(p).read().replace(os.path.abspath(store_dir), "mlruns")
                open(p, "w").write(text)
    # The SQLite store too; then compact it (the schema's many tables are mostly empty pages).
    import sqlite3

    con = sqlite3.connect(db_path)
    con.execute("UPDATE experiments SET artifact_location = 'mlruns/' || experiment_id")
    con.execute("UPDATE runs SET artifact_uri = 'mlruns/' || experiment_id || '/' || run_uuid || '/artifacts'")
    con.commit()
    con.execute("VACUUM")
    con.close()
    del mlflow


def write_wandb_offline(runs, out_dir):
    """One offline run folder per (name, rows), in order; `latest-run` links the last."""
    import glob
    import wandb

    scratch = tempfile.mkdtemp(prefix="jepa-fixture-wandb-")
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true")
    fresh(out_dir)
    for name, rows in runs:
        before = set(glob.glob(os.path.join(scratch, "wandb", "offline-run-*")))
        run = wandb.init(project="jepa", name=name, mode="offline", dir=scratch)
        for r in rows:
            run.log(dict(zip(TAGS, r[1:])), step=r[0])
        run.finish()
        (src,) = set(glob.glob(os.path.join(scratch, "wandb", "offline-run-*"))) - before
        dst = os.path.join(out_dir, os.path.basename(src))
        os.makedirs(dst)
        for f in glob.glob(os.path.join(src, "*.wandb")):
            shutil.copy(f, dst)
    os.symlink(os.path.basename(src), os.path.join(out_dir, "latest-run"))


def write_wandb_export(rows, path, runs=("jepa-vitl16",)):
    """The UI's Download CSV: Step, then per run `<run> - <metric>`, `__MIN`, `__MAX`."""
    header = ["Step"]
    for run in runs:
        for tag in TAGS:
            header += [f"{run} - {tag}", f"{run} - {tag}__MIN", f"{run} - {tag}__MAX"]
    with open(fresh(path), "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            line = [r[0]]
            for k, _ in enumerate(runs):
                for v in r[1:]:
                    v = v * (1 + 0.1 * k)
                    line += [repr(v), repr(v), repr(v)]
            w.writerow(line)


def write_fairseq(rows, path):
    """fairseq-hydra: `[time][train_inner][INFO] - {json}` with numbers as strings."""
    import json

    with open(fresh(path), "w") as f:
        f.write("[2024-01-01 00:00:00,000][fairseq_cli.train][INFO] - task: JEPAPretraining\n")
        f.write("[2024-01-01 00:00:01,000][fairseq.trainer][INFO] - begin training epoch 1\n")
        for r in rows:
            rec = {"epoch": 1 + r[0] // 200, "update": f"{r[0] / 200:.3f}",
                   "loss": repr(r[1]), "loss-jepa": repr(r[2]), "reg-loss": repr(r[3]),
                   "num_updates": str(r[0]), "lr": repr(r[4]), "wps": "12000.5"}
            f.write(f"[2024-01-01 00:{r[0] // 60 % 60:02d}:{r[0] % 60:02d},000][train_inner][INFO] - "
                    f"{json.dumps(rec)}\n")
            if r[0] % 200 == 198:
                f.write("[2024-01-01 00:00:00,000][train][INFO] - "
                        + json.dumps({"epoch": 1 + r[0] // 200, "train_loss": repr(r[1]),
                                      "train_num_updates": str(r[0])}) + "\n")


def write_jsonl(rows, path):
    import json

    with open(fresh(path), "w") as f:
        for r in rows:
            f.write(json.dumps({"step": r[0], **dict(zip(TAGS, r[1:]))}) + "\n")


def write_console(rows, path):
    """V-JEPA's log line (app/vjepa/train.py) with AverageMeter running means since the epoch's
    start. Rows are logged every 2 iterations, one epoch of 600 iterations: iterations itr - 1 and
    itr both take row itr's value, so the window mean between two lines is that row's value."""
    with open(fresh(path), "w") as f:
        f.write("INFO:root:iterations per epoch/dataest length: 600/76800\n")
        sums = [0.0, 0.0, 0.0]
        for r in rows:
            itr = r[0]
            n = 1 if itr == 0 else 2
            for k in range(3):
                sums[k] += n * r[1 + k]
            loss, jepa, reg = (v / (itr + 1) for v in sums)
            f.write(f"INFO:root:[1, {itr:5d}] loss: {loss:.10f} | p{jepa:.10f} r{reg:.10f} | "
                    f"input_var: 0.600 0.200 | masks: [80.0, 38.0] [wd: 4.00e-02] [lr: {r[4]!r}] "
                    f"[mem: 1.85e+03] [gpu: 460.0 ms][wall: 463.0 ms]\n")


def write_framework_same_run(rows, out):
    """The same rows in framework layouts, metric names as the run logged them."""
    import json

    fresh(out)
    d = os.path.join(out, "lightning_logs", "version_0")
    os.makedirs(d)
    with open(os.path.join(d, "metrics.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["epoch", "loss-jepa_step", "loss_step", "lr", "reg-loss_step", "step"])
        for r in rows:
            w.writerow([0, repr(r[2]), repr(r[1]), repr(r[4]), repr(r[3]), r[0]])
    d = os.path.join(out, "mmengine_work_dir", "20240101_000000", "vis_data")
    os.makedirs(d)
    with open(os.path.join(d, "scalars.json"), "w") as f:
        for r in rows:
            f.write(json.dumps({**dict(zip(TAGS, r[1:])), "data_time": 0.01, "time": 0.5,
                                "epoch": 1, "iter": r[0], "memory": 9000, "step": r[0]}) + "\n")
    with open(os.path.join(out, "training_metrics.json"), "w") as f:
        for r in rows:
            f.write(json.dumps({"iteration": r[0], "iter_time": 0.4, "data_time": 0.01,
                                **dict(zip(TAGS, r[1:]))}) + "\n")
    d = os.path.join(out, "hf_output_dir", "checkpoint-600")
    os.makedirs(d)
    history = [{"epoch": round(r[0] / 600, 4), **dict(zip(TAGS, r[1:])), "step": r[0]} for r in rows]
    json.dump({"best_metric": None, "epoch": 1.0, "global_step": 600, "log_history": history,
               "max_steps": 600}, open(os.path.join(d, "trainer_state.json"), "w"), indent=2)


def write_framework_copies(rows, out):
    """Hand copies of framework layouts, from the same rows."""
    import json

    fresh(out)
    # Lightning CSVLogger, self.log(..., on_step=True, on_epoch=True): `<name>_step` every
    # logged step, `<name>_epoch` once per epoch at the epoch's last step (its own row).
    d = os.path.join(out, "lightning_run", "lightning_logs", "version_1")
    os.makedirs(d)
    os.makedirs(os.path.join(out, "lightning_run", "lightning_logs", "version_0"))
    open(os.path.join(out, "lightning_run", "lightning_logs", "version_0", "hparams.yaml"), "w").write("lr: 0.001\n")
    with open(os.path.join(d, "metrics.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["epoch", "lr-AdamW", "loss-jepa_step", "loss_epoch", "loss_step",
                    "reg-loss_step", "step"])
        per_epoch = 60
        for i, r in enumerate(rows):
            epoch = i // per_epoch
            w.writerow([epoch, repr(r[4]), repr(r[2]), "", repr(r[1]), repr(r[3]), r[0]])
            if i % per_epoch == per_epoch - 1:
                chunk = rows[i - per_epoch + 1:i + 1]
                mean = sum(c[1] for c in chunk) / len(chunk)
                w.writerow([epoch, "", "", repr(f32(mean)), "", "", r[0]])
    # Keras CSVLogger: one row per epoch, `epoch` first, keys sorted.
    with open(os.path.join(out, "keras_training_hand_copy.log"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["epoch", "learning_rate", "loss", "val_loss"])
        for e, r in enumerate(rows[::10]):
            w.writerow([e, repr(r[4]), repr(r[1]), repr(f32(r[1] * 1.05))])
    # MMEngine LocalVisBackend: <work_dir>/<timestamp>/vis_data/scalars.json, JSON lines.
    d = os.path.join(out, "mmengine_work_dir", "20240101_000000", "vis_data")
    os.makedirs(d)
    with open(os.path.join(d, "scalars.json"), "w") as f:
        for r in rows:
            f.write(json.dumps({"lr": r[4], "data_time": 0.01, "loss": r[1], "loss_jepa": r[2],
                                "reg_loss": r[3], "time": 0.5, "epoch": 1 + r[0] // 200,
                                "iter": r[0], "memory": 9000, "step": r[0]}) + "\n")
    # DINOv2 MetricLogger: training_metrics.json, JSON lines with `iteration`.
    with open(os.path.join(out, "dinov2_training_metrics_hand_copy.json"), "w") as f:
        for r in rows:
            f.write(json.dumps({"iteration": r[0], "iter_time": 0.4, "data_time": 0.01,
                                "lr": r[4], "wd": 0.04, "mom": 0.992, "last_layer_lr": r[4],
                                "current_batch_size": 64.0, "total_loss": r[1],
                                "dino_local_crops_loss": r[2], "koleo_loss": r[3]}) + "\n")
    # HF Trainer: output_dir/checkpoint-N/trainer_state.json (the latest N is read).
    for n, upto in ((300, 150), (600, 300)):
        d = os.path.join(out, "hf_output_dir", f"checkpoint-{n}")
        os.makedirs(d)
        history = [{"epoch": round(r[0] / 600, 4), "learning_rate": r[4], "loss": r[1], "step": r[0]}
                   for r in rows[:upto]]
        json.dump({"best_metric": None, "epoch": 1.0, "global_step": n, "log_history": history,
                   "max_steps": 600}, open(os.path.join(d, "trainer_state.json"), "w"), indent=2)


def main():
    ensure_venv()
    rows = same_run()
    base = os.path.join(OUT, "same_run")
    other = [(r[0], *(f32(v * 1.2) for v in r[1:])) for r in rows]
    same_params = [("lr", "0.001"), ("warmup", "50"), ("ema", "0.996")]
    two = os.path.join(OUT, "mlflow_two_runs")

    def hf_params(lr):
        return [("learning_rate", lr), ("warmup_steps", "50"), ("weight_decay", "0.04")]

    def mlflow_stores():
        write_mlflow([("jepa-vitl16", rows, same_params)], os.path.join(base, "mlruns"),
                     os.path.join(base, "mlflow.db"))
        write_mlflow([("lr_1e-3", rows, hf_params("0.001")), ("lr_3e-3", other, hf_params("0.003"))],
                     os.path.join(two, "mlruns"), os.path.join(two, "mlflow.db"))

    def wandb_two_runs():
        write_wandb_offline([("lr_1e-3", rows), ("lr_3e-3", other)],
                            os.path.join(OUT, "wandb_two_runs", "wandb"))

    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    if only in ("mlflow", "wandb"):
        {"mlflow": mlflow_stores, "wandb": wandb_two_runs}[only]()
        return
    write_reference(rows, os.path.join(base, "reference.csv"))
    write_wandb_export(rows, os.path.join(base, "wandb_export_hand_copy.csv"))
    write_fairseq(rows, os.path.join(base, "hydra_train_hand_copy.log"))
    write_jsonl(rows, os.path.join(base, "metrics.jsonl"))
    write_console(rows, os.path.join(base, "console_hand_copy.log"))
    write_framework_same_run(rows, os.path.join(base, "framework"))
    write_wandb_export(rows, os.path.join(OUT, "wandb_export_two_runs_hand_copy.csv"),
                       runs=("lr_1e-3", "lr_3e-3"))
    write_framework_copies(rows, os.path.join(OUT, "framework"))
    if "--text-only" in sys.argv:
        return
    write_tensorboardx(rows, os.path.join(base, "tensorboard"))
    write_tensorboard_tensors(rows, os.path.join(base, "tensorboard_tensor"))
    mlflow_stores()
    write_wandb_offline([("jepa-vitl16", rows)], os.path.join(base, "wandb"))
    wandb_two_runs()
    tb = os.path.join(OUT, "tensorboard")
    write_add_scalars(rows, os.path.join(tb, "add_scalars"))
    write_two_runs(rows, os.path.join(tb, "two_runs"))
    damaged_copies(os.path.join(base, "tensorboard"), tb)


if __name__ == "__main__":
    main()
