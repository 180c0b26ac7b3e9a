//! The protobuf messages of TensorBoard event files, hand-written for `prost` (no protoc): only
//! the fields jepa-doctor reads are declared; protobuf skips the others. Field numbers follow
//! tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto, tensor.proto,
//! tensor_shape.proto and types.proto.

use prost::Message;
use prost::bytes::Bytes;

use crate::model::narrow;

/// `tensorflow.Event` (event.proto): only the fields read.
#[derive(Clone, PartialEq, Message)]
pub struct Event {
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    #[prost(int64, tag = "2")]
    pub step: i64,
    #[prost(string, optional, tag = "3")]
    pub file_version: Option<String>,
    #[prost(message, optional, tag = "5")]
    pub summary: Option<Summary>,
}

/// `tensorflow.Summary` (summary.proto).
#[derive(Clone, PartialEq, Message)]
pub struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value`: a tag and one of several payloads (only the scalar ones declared).
#[derive(Clone, PartialEq, Message)]
pub struct SummaryValue {
    /// A `string` on the wire, read as bytes (the reader checks UTF-8 once per distinct tag).
    #[prost(bytes = "bytes", tag = "1")]
    pub tag: Bytes,
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
    #[prost(message, optional, tag = "8")]
    pub tensor: Option<TensorProto>,
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
}

/// `tensorflow.SummaryMetadata`.
#[derive(Clone, PartialEq, Message)]
pub struct SummaryMetadata {
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
    /// `DataClass`: 1 scalar, 2 tensor, 3 blob sequence.
    #[prost(int32, tag = "4")]
    pub data_class: i32,
}

/// `tensorflow.SummaryMetadata.PluginData`.
#[derive(Clone, PartialEq, Message)]
pub struct PluginData {
    #[prost(string, tag = "1")]
    pub plugin_name: String,
}

/// `tensorflow.TensorProto` (tensor.proto): dtype, shape and the numeric value fields.
#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    /// `DataType` (types.proto): 1 float, 2 double, 3 int32, 9 int64, 14 bfloat16, 19 half.
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShape>,
    #[prost(bytes = "vec", tag = "4")]
    pub tensor_content: Vec<u8>,
    #[prost(float, repeated, tag = "5")]
    pub float_val: Vec<f32>,
    #[prost(double, repeated, tag = "6")]
    pub double_val: Vec<f64>,
    #[prost(int32, repeated, tag = "7")]
    pub int_val: Vec<i32>,
    #[prost(int64, repeated, tag = "10")]
    pub int64_val: Vec<i64>,
    #[prost(int32, repeated, tag = "13")]
    pub half_val: Vec<i32>,
}

/// `tensorflow.TensorShapeProto`.
#[derive(Clone, PartialEq, Message)]
pub struct TensorShape {
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<TensorDim>,
}

/// `tensorflow.TensorShapeProto.Dim`.
#[derive(Clone, PartialEq, Message)]
pub struct TensorDim {
    #[prost(int64, tag = "1")]
    pub size: i64,
}

const DT_FLOAT: i32 = 1;
const DT_DOUBLE: i32 = 2;
const DT_INT32: i32 = 3;
const DT_INT64: i32 = 9;
const DT_BFLOAT16: i32 = 14;
const DT_HALF: i32 = 19;

/// The value of a rank-0 (or single-element) numeric tensor, as stored ([`narrow`]: a value
/// beyond the `f32` range keeps its value, a NaN is the canonical NaN).
pub fn tensor_scalar(t: &TensorProto) -> Option<f32> {
    let elements: i64 = t
        .tensor_shape
        .as_ref()
        .map_or(1, |s| s.dim.iter().map(|d| d.size).product());
    if elements != 1 {
        return None;
    }
    let content = t.tensor_content.as_slice();
    match t.dtype {
        DT_FLOAT => t
            .float_val
            .first()
            .copied()
            .or_else(|| Some(f32::from_le_bytes(content.get(..4)?.try_into().ok()?)))
            .map(|x| narrow(f64::from(x))),
        DT_DOUBLE => t
            .double_val
            .first()
            .copied()
            .or_else(|| Some(f64::from_le_bytes(content.get(..8)?.try_into().ok()?)))
            .map(narrow),
        DT_INT32 => t
            .int_val
            .first()
            .copied()
            .or_else(|| Some(i32::from_le_bytes(content.get(..4)?.try_into().ok()?)))
            .map(|x| x as f32),
        DT_INT64 => t
            .int64_val
            .first()
            .copied()
            .or_else(|| Some(i64::from_le_bytes(content.get(..8)?.try_into().ok()?)))
            .map(|x| x as f32),
        DT_HALF => half_bits(t, content).map(f16_to_f32),
        DT_BFLOAT16 => {
            half_bits(t, content).map(|b| narrow(f64::from(f32::from_bits(u32::from(b) << 16))))
        }
        _ => None,
    }
}

fn half_bits(t: &TensorProto, content: &[u8]) -> Option<u16> {
    t.half_val
        .first()
        .map(|h| *h as u16)
        .or_else(|| Some(u16::from_le_bytes(content.get(..2)?.try_into().ok()?)))
}

/// IEEE 754 binary16 to binary32 (exact: every half is a float).
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal half: value = frac * 2^-24.
            let v = frac as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000,
        _ => sign | ((exp + 112) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_values_convert_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn rank0_tensors_in_every_value_field_are_scalars() {
        let float = TensorProto {
            dtype: DT_FLOAT,
            float_val: vec![0.5],
            ..TensorProto::default()
        };
        assert_eq!(tensor_scalar(&float), Some(0.5));
        let content = TensorProto {
            dtype: DT_FLOAT,
            tensor_content: 0.25f32.to_le_bytes().to_vec(),
            ..TensorProto::default()
        };
        assert_eq!(tensor_scalar(&content), Some(0.25));
        let double = TensorProto {
            dtype: DT_DOUBLE,
            double_val: vec![0.125],
            ..TensorProto::default()
        };
        assert_eq!(tensor_scalar(&double), Some(0.125));
        let vector = TensorProto {
            dtype: DT_FLOAT,
            float_val: vec![1.0, 2.0],
            tensor_shape: Some(TensorShape {
                dim: vec![TensorDim { size: 2 }],
            }),
            ..TensorProto::default()
        };
        assert_eq!(tensor_scalar(&vector), None);
    }
}
