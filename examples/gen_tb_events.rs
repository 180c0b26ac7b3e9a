//! Writes one run twice for the TensorBoard reading benchmark (bench/tensorboard.sh): as a
//! TensorBoard event file (TFRecord frames of `Event` protobufs with `simple_value`, one scalar per
//! event, as tensorboardX and torch.utils.tensorboard write them) and as the same data in CSV.
//!
//!     cargo run --release --example gen_tb_events -- SCALARS OUT_DIR
//!
//! `SCALARS` values are spread over four tags (loss, loss-jepa, reg-loss, lr), so SCALARS / 4 steps.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use jepa_doctor::ingest::tensorboard::{Event, Summary, SummaryValue};
use jepa_doctor::ingest::tfrecord::masked_crc;
use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(n), Some(out)) = (args.get(1), args.get(2)) else {
        return Err("usage: gen_tb_events SCALARS OUT_DIR".into());
    };
    let scalars: u64 = n.parse()?;
    let out = Path::new(out);
    fs::create_dir_all(out.join("tb"))?;
    let mut tb = BufWriter::new(File::create(
        out.join("tb").join("events.out.tfevents.0.bench"),
    )?);
    let mut csv = BufWriter::new(File::create(out.join("same.csv"))?);
    writeln!(csv, "step,loss,loss-jepa,reg-loss,lr")?;
    let mut frame = |event: &Event| -> std::io::Result<()> {
        let payload = event.encode_to_vec();
        let len = (payload.len() as u64).to_le_bytes();
        tb.write_all(&len)?;
        tb.write_all(&masked_crc(&len).to_le_bytes())?;
        tb.write_all(&payload)?;
        tb.write_all(&masked_crc(&payload).to_le_bytes())
    };
    frame(&Event {
        wall_time: 1.7e9,
        step: 0,
        file_version: Some("brain.Event:2".into()),
        summary: None,
    })?;
    let tags = ["loss", "loss-jepa", "reg-loss", "lr"];
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for step in 0..scalars / 4 {
        let s = step as f64;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let noise = (seed % 10_000) as f64 / 1e6;
        let jepa = (0.45 + 0.5 * (-s / 20_000.0).exp() + noise) as f32;
        let reg = (0.02 + 0.3 * (-s / 50_000.0).exp()) as f32;
        let lr = (1e-3 * (s / 5_000.0).min(1.0)) as f32;
        let values = [jepa, jepa, reg, lr];
        writeln!(csv, "{step},{jepa},{jepa},{reg},{lr}")?;
        for (tag, v) in tags.iter().zip(values) {
            frame(&Event {
                wall_time: 1.7e9 + s,
                step: step as i64,
                file_version: None,
                summary: Some(Summary {
                    value: vec![SummaryValue {
                        tag: (*tag).into(),
                        simple_value: Some(v),
                        tensor: None,
                        metadata: None,
                    }],
                }),
            })?;
        }
    }
    Ok(())
}
