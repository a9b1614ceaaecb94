//! The handful of library types whose methods sync ([`Ty`]), as the rules see them.

use super::summary::TyRef;

/// The library types the rules care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// candle's `Tensor` (or `Var`, which derefs to one).
    Tensor,
    /// tch's `Tensor`.
    TchTensor,
    /// candle's `Device`.
    Device,
    /// `Device::Cpu` itself.
    CpuDevice,
    /// candle's `CudaDevice` (or cudarc's, before 0.13).
    CudaDevice,
    CudaStream,
    CudaContext,
    CudaEvent,
    /// cudarc device memory (`CudaSlice`, `CudaView`).
    DeviceSlice,
    /// cudarc page-locked host memory.
    PinnedHost,
    /// Host memory: a `Vec`, slice or array.
    HostVec,
    /// Some other type: proven not to be one of the above.
    Other,
    /// Not known.
    Unknown,
}

impl Ty {
    pub fn of(ty: Option<&TyRef>, tch: bool) -> Ty {
        let Some(ty) = ty else { return Ty::Unknown };
        let TyRef::Path(segments) = ty else { return Ty::HostVec };
        let last = segments.last().map(String::as_str).unwrap_or("");
        if segments.len() >= 2 && segments[segments.len() - 2] == "Device" && last == "Cpu" {
            return Ty::CpuDevice;
        }
        match last {
            "Tensor" if tch || segments.first().is_some_and(|s| s == "tch") => Ty::TchTensor,
            "Tensor" | "Var" => Ty::Tensor,
            "Device" if !tch => Ty::Device,
            "CudaDevice" => Ty::CudaDevice,
            "CudaStream" => Ty::CudaStream,
            "CudaContext" => Ty::CudaContext,
            "CudaEvent" => Ty::CudaEvent,
            "CudaSlice" | "CudaView" | "CudaViewMut" => Ty::DeviceSlice,
            "PinnedHostSlice" => Ty::PinnedHost,
            "_" => Ty::Unknown,
            _ => Ty::Other,
        }
    }

    /// Unknown, or a candle tensor: what a tensor-only method name may be called on.
    pub fn may_be_tensor(self) -> bool {
        matches!(self, Ty::Tensor | Ty::Unknown)
    }
}

/// candle `Tensor` methods that do not return a tensor (everything else on a tensor does, or a
/// `Result` of one).
pub fn tensor_method_returns_tensor(method: &str) -> bool {
    !matches!(
        method,
        "to_scalar"
            | "to_vec0"
            | "to_vec1"
            | "to_vec2"
            | "to_vec3"
            | "dims"
            | "dim"
            | "dims0"
            | "dims1"
            | "dims2"
            | "dims3"
            | "dims4"
            | "dims5"
            | "shape"
            | "dtype"
            | "device"
            | "rank"
            | "elem_count"
            | "layout"
            | "stride"
            | "is_contiguous"
            | "storage"
            | "id"
            | "chunk"
            | "to_string"
            | "write_npy"
            | "save_safetensors"
    )
}

/// candle-nn 0.11.1's layers: each implements `Module` (or `ModuleT`), whose `forward` (or
/// `forward_t`) returns `Result<Tensor>`. Written from candle-nn's sources (`impl .. Module for`).
const CANDLE_NN_LAYERS: &[&str] = &[
    "Activation",
    "BatchNorm",
    "Conv1d",
    "Conv2d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "Dropout",
    "Embedding",
    "Func",
    "FuncT",
    "GroupNorm",
    "Identity",
    "LayerNorm",
    "Linear",
    "PReLU",
    "RmsNorm",
    "Sequential",
];

/// Whether candle-nn's item `name` is a layer whose `forward`/`forward_t` returns a tensor.
pub fn is_candle_nn_layer(name: &str) -> bool {
    CANDLE_NN_LAYERS.contains(&name)
}

/// The layer that candle-nn 0.11.1's builder function `name` returns (`linear(..) ->
/// Result<Linear>`), from its public signatures.
pub fn candle_nn_layer_built_by(name: &str) -> Option<&'static str> {
    Some(match name {
        "linear" | "linear_no_bias" | "linear_b" => "Linear",
        "embedding" => "Embedding",
        "layer_norm" | "layer_norm_no_bias" => "LayerNorm",
        "rms_norm" => "RmsNorm",
        "conv1d" | "conv1d_no_bias" => "Conv1d",
        "conv2d" | "conv2d_no_bias" => "Conv2d",
        "conv_transpose1d" | "conv_transpose1d_no_bias" => "ConvTranspose1d",
        "conv_transpose2d" | "conv_transpose2d_no_bias" => "ConvTranspose2d",
        "group_norm" => "GroupNorm",
        "batch_norm" => "BatchNorm",
        "prelu" => "PReLU",
        "seq" => "Sequential",
        _ => return None,
    })
}
