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
