//! The TensorBoard event-file reader on arbitrary bytes: TFRecord framing (lengths, both masked
//! CRC-32C checks, resynchronisation after a damaged header, a truncated tail) and the `Event`
//! protobuf decoding. Every record is accounted for, and frame offsets only move forward.
#![no_main]

use jepa_doctor::ingest::table::ValuePolicy;
use jepa_doctor::ingest::tfrecord::{Frame, RecordReader};
use jepa_doctor::ingest::{Source, tensorboard};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut frames = RecordReader::new(data);
    let mut last = None;
    loop {
        let frame = frames.next_frame().expect("reading a slice never fails");
        let offset = match frame {
            Frame::End => break,
            Frame::Record { offset } | Frame::BadPayloadCrc { offset } => offset,
            Frame::Resynced { offset, .. } | Frame::Truncated { offset, .. } => offset,
        };
        assert!(offset as usize <= data.len());
        assert!(last.is_none_or(|l| offset > l), "offsets go forward");
        last = Some(offset);
        if matches!(frame, Frame::Truncated { .. }) {
            break;
        }
    }
    let source = Source::file(std::path::Path::new("events.out.tfevents.fuzz"));
    if let Ok(parsed) = tensorboard::parse(data, &source, &ValuePolicy::default()) {
        let a = &parsed.table.account;
        assert_eq!(a.rows_read, a.rows_used + a.rows_skipped + a.rows_replaced);
    }
});
