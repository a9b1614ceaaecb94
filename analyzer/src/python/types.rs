//! The value lattice of tensor inference, and what graphlint knows about the torch API.
//!
//! Inference is local and follows a straight-line order of statements, except that a device tensor
//! one branch of an `if` or one loop iteration assigns reaches the reads after it (see
//! `checker/flow.rs`): a value is a tensor only when the code proves it on some path (an
//! annotation, a torch call, a tensor method or arithmetic on a tensor, a tensor attribute of the
//! class). Everything else is `Unknown`, and rules other than `.item()` do not fire on unknowns.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::summary::{FuncIdx, ValId};

/// What graphlint knows about a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Ty {
    #[default]
    Unknown,
    /// A tensor. `boolean`: known to hold booleans (a mask). `host`: known to live in CPU memory.
    Tensor {
        boolean: bool,
        host: bool,
    },
    /// A tuple/list/namedtuple of tensors (`chunk`, `split`, `max(dim=...)`, `tuple[Tensor, ...]`).
    Tensors,
    Int,
    Float,
    Bool,
    Str,
    None,
    /// `t.shape`, `t.size()`, a tuple of ints.
    Shape,
    /// A Python list (host data).
    List,
    Dict,
    Device,
    /// The CPU device: `torch.device("cpu")`, or the `.device` of a tensor in host memory.
    HostDevice,
    Dtype,
    /// A numpy array.
    NdArray,
    /// An instance of a `torch.nn` layer (calling it returns a tensor).
    Layer,
    /// A CUDA stream or event.
    Stream,
    /// A `logging.Logger`.
    Logger,
    /// A symbolic value (parameter, instance, class, function...) kept for call resolution.
    /// For the rules it is as good as `Unknown`.
    Val(ValId),
}

impl Ty {
    pub const TENSOR: Ty = Ty::Tensor { boolean: false, host: false };
    pub const BOOL_TENSOR: Ty = Ty::Tensor { boolean: true, host: false };
    pub const HOST_TENSOR: Ty = Ty::Tensor { boolean: false, host: true };

    pub fn is_tensor(self) -> bool {
        matches!(self, Ty::Tensor { .. })
    }

    /// A tensor not proven to be in host memory: reading it may wait for the device.
    pub fn is_device_tensor(self) -> bool {
        matches!(self, Ty::Tensor { host: false, .. })
    }

    pub fn is_bool_tensor(self) -> bool {
        matches!(self, Ty::Tensor { boolean: true, .. })
    }

    pub fn is_host_tensor(self) -> bool {
        matches!(self, Ty::Tensor { host: true, .. })
    }

    /// Nothing is known: neither tensor nor a proven non-tensor.
    pub fn is_unproven(self) -> bool {
        matches!(self, Ty::Unknown | Ty::Val(_))
    }

    /// A tensor with the same device but unknown dtype (most tensor ops).
    pub fn on_same_device(self) -> Ty {
        match self {
            Ty::Tensor { host, .. } => Ty::Tensor { boolean: false, host },
            _ => Ty::TENSOR,
        }
    }

    /// Merge of what two paths return, for callers in other files: a device tensor on one path and
    /// a Python scalar or `None` on the other is a device tensor (on that path, reading it syncs);
    /// a device tensor and a host tensor is unknown (host residence is never guessed).
    pub fn join_paths(self, other: Ty) -> Ty {
        match (self, other) {
            (Ty::Tensor { host: true, .. }, Ty::Tensor { host: false, .. })
            | (Ty::Tensor { host: false, .. }, Ty::Tensor { host: true, .. }) => Ty::Unknown,
            (t @ Ty::Tensor { host: false, .. }, Ty::Int | Ty::Float | Ty::Bool)
            | (Ty::Int | Ty::Float | Ty::Bool, t @ Ty::Tensor { host: false, .. }) => t.on_same_device(),
            _ => self.join(other),
        }
    }

    /// Merge of two possibilities (a ternary, an `Optional`): keep what both agree on.
    pub fn join(self, other: Ty) -> Ty {
        match (self, other) {
            (a, b) if a == b => a,
            (Ty::None, x) | (x, Ty::None) => x,
            (Ty::Tensor { boolean: b1, host: h1 }, Ty::Tensor { boolean: b2, host: h2 }) => {
                Ty::Tensor { boolean: b1 && b2, host: h1 && h2 }
            }
            (Ty::Int, Ty::Float) | (Ty::Float, Ty::Int) => Ty::Float,
            // Either device: maybe an accelerator.
            (Ty::Device, Ty::HostDevice) | (Ty::HostDevice, Ty::Device) => Ty::Device,
            _ => Ty::Unknown,
        }
    }
}

/// What the project pass proved for one file from the other files' declarations, for its
/// re-check (see `project/declared.rs`).
#[derive(Debug, Default)]
pub struct ForeignTypes {
    /// Types of attribute reads and call results, by the expression's range (see [`range_key`]).
    pub exprs: FxHashMap<u64, Ty>,
    /// Element types of call results unpacked into a tuple (`a, b = f()`), by the call's range.
    pub elements: FxHashMap<u64, Vec<Ty>>,
    /// What declared containers hold, by the range of the attribute read that gives one
    /// (`info.masks` with `masks: Dict[int, Tuple[P, torch.Tensor]]` declared in its class).
    pub containers: FxHashMap<u64, Declared>,
    /// Parameters annotated `int`/`float`/`bool`, or not typed at all, that callers in the tree
    /// pass device tensors, by (function, index).
    pub params: FxHashMap<(FuncIdx, u32), GivenTensor>,
    /// Parameters of private or local functions, and of methods of private classes, that every
    /// caller in the tree passes host data of one kind (arrays in host memory, or Python values):
    /// so do they, whatever their annotation.
    pub host_params: FxHashMap<(FuncIdx, u32), HostData>,
    /// Functions of the file (by qualified name) that return what one of their parameters that
    /// callers give a device tensor holds: those parameters' bits (see
    /// [`crate::python::summary::FuncSummary::returns_params`]), the bits of those among them
    /// annotated as numbers (a 0-d tensor then), and whether the function is static (no `self`).
    pub param_returns: FxHashMap<String, ParamReturns>,
    /// Multimodal input fields that other files keep in host memory, among the keys the file
    /// reads from mappings (see `checker/kept_fields.rs`).
    pub kept_fields: Vec<String>,
}

/// See [`ForeignTypes::param_returns`].
#[derive(Debug, Clone, Copy)]
pub struct ParamReturns {
    pub params: u32,
    pub zero_dim: u32,
    pub is_static: bool,
}

/// A parameter that callers in the tree pass a device tensor.
#[derive(Debug, Clone)]
pub struct GivenTensor {
    pub name: String,
    /// One such caller, `file:line`.
    pub caller: String,
    /// The parameter is annotated as a Python number.
    pub annotated: bool,
    /// The tensor holds one value: the annotation says it is a number, or the caller's argument
    /// is one passed on (`self._variance(t)` with `t` such a parameter). Indexing with it reads it.
    pub zero_dim: bool,
}

/// The key of an expression's range in [`ForeignTypes`].
pub fn range_key(start: u32, end: u32) -> u64 {
    (u64::from(start) << 32) | u64::from(end)
}

impl ForeignTypes {
    pub fn is_empty(&self) -> bool {
        self.exprs.is_empty()
            && self.elements.is_empty()
            && self.containers.is_empty()
            && self.params.is_empty()
            && self.host_params.is_empty()
            && self.param_returns.is_empty()
            && self.kept_fields.is_empty()
    }
}

/// What a container annotation declares its elements to be (`Optional[Dict[int, Tuple[P,
/// torch.Tensor]]]`), for the values taken out of it: iterated, unpacked, indexed, or read through
/// `.items()`, `.values()` and `.keys()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Declared {
    /// Not a container looked into: the type its annotation proves.
    Leaf(Ty),
    /// `list[T]`, `Sequence[T]`, `tuple[T, ...]`, `deque[T]`: every element a `T`, by index too.
    Seq(Box<Declared>),
    /// `set[T]`, `Iterable[T]`, `Iterator[T]`: every element a `T`, only by iteration.
    Iter(Box<Declared>),
    /// `tuple[A, B]`: element by element.
    Tuple(Vec<Declared>),
    /// `dict[K, V]`, `Mapping[K, V]`: keys and values.
    Map(Box<Declared>, Box<Declared>),
    /// An instance of a class the declaring file names (its [`Val::Declared`] value there): the
    /// project pass turns it into [`Declared::Calls`] or an unknown leaf before another file
    /// sees it.
    ///
    /// [`Val::Declared`]: crate::python::summary::Val::Declared
    Instance(ValId),
    /// An instance of a project class whose `__call__` (a module's `forward`) returns this.
    Calls(Ty),
}

impl Declared {
    /// What the value as a whole is, for the rules: a tensor leaf's type, or tensors for a
    /// sequence or tuple of tensors; anything else is not looked at here.
    pub fn ty(&self) -> Ty {
        match self {
            Declared::Leaf(ty) => *ty,
            Declared::Seq(element) if element.ty().is_tensor() => Ty::Tensors,
            Declared::Tuple(elements) if !elements.is_empty() && elements.iter().all(|e| e.ty().is_tensor()) => {
                Ty::Tensors
            }
            _ => Ty::Unknown,
        }
    }

    /// What iterating it gives (a dict's keys; a tuple's elements when they agree).
    pub fn iterated(&self) -> Option<&Declared> {
        match self {
            Declared::Seq(element) | Declared::Iter(element) | Declared::Map(element, _) => Some(element),
            Declared::Tuple(elements) => elements.first().filter(|first| elements.iter().all(|e| e == *first)),
            Declared::Leaf(_) | Declared::Instance(_) | Declared::Calls(_) => None,
        }
    }

    /// What `value[index]` gives: an element of a sequence, a dict's value, or the tuple element
    /// at literal `position`.
    pub fn indexed(&self, position: Option<i64>) -> Option<&Declared> {
        match self {
            Declared::Seq(element) | Declared::Map(_, element) => Some(element),
            Declared::Tuple(elements) => {
                let position = position?;
                let at = if position < 0 { elements.len() as i64 + position } else { position };
                elements.get(usize::try_from(at).ok()?)
            }
            Declared::Leaf(_) | Declared::Iter(_) | Declared::Instance(_) | Declared::Calls(_) => None,
        }
    }

    /// Whether some leaf of it is a boolean tensor.
    pub fn holds_bool_tensor(&self) -> bool {
        match self {
            Declared::Leaf(ty) => ty.is_bool_tensor(),
            Declared::Seq(element) | Declared::Iter(element) => element.holds_bool_tensor(),
            Declared::Tuple(elements) => elements.iter().any(Declared::holds_bool_tensor),
            Declared::Map(key, value) => key.holds_bool_tensor() || value.holds_bool_tensor(),
            Declared::Instance(_) | Declared::Calls(_) => false,
        }
    }

    /// Whether it is a Python list or tuple (indexing one with a tensor calls `__index__`).
    pub fn is_sequence(&self) -> bool {
        matches!(self, Declared::Seq(_) | Declared::Tuple(_))
    }

    /// Whether some value taken out of it is one the rules read (a tensor, a stream, an array).
    pub fn holds_arrays(&self) -> bool {
        match self {
            Declared::Leaf(ty) => matches!(ty, Ty::Tensor { .. } | Ty::Tensors | Ty::Stream | Ty::NdArray),
            Declared::Seq(element) | Declared::Iter(element) => element.holds_arrays(),
            Declared::Tuple(elements) => elements.iter().any(Declared::holds_arrays),
            Declared::Map(key, value) => key.holds_arrays() || value.holds_arrays(),
            Declared::Calls(ty) => ty.is_tensor() || *ty == Ty::Tensors,
            Declared::Instance(_) => false,
        }
    }
}

/// A name that marks a host-memory copy (`seq_lens_cpu`, `cpu_slot_mapping`, `pinned_buf`,
/// `get_ids_np`): declarations (`torch.Tensor`) say nothing of where a tensor lives, and such
/// values are filled from `.cpu()`, pinned or numpy memory, so they are never taken for device
/// tensors.
pub fn names_host_buffer(name: &str) -> bool {
    const WORDS: [&str; 5] = ["cpu", "pinned", "host", "np", "numpy"];
    // (Every word is 2 to 6 bytes long: most parts are told apart by their length alone.)
    let is_word = |part: &[u8]| {
        (2..=6).contains(&part.len()) && WORDS.iter().any(|word| part.eq_ignore_ascii_case(word.as_bytes()))
    };
    if !name.is_ascii() {
        return name.split(|c: char| c == '_' || !c.is_alphanumeric()).any(|part| is_word(part.as_bytes()));
    }
    // On bytes, in one loop: it runs on the source text of many expressions (each argument of a
    // call, each assigned value), where splitting by chars took a few percent of a run.
    let bytes = name.as_bytes();
    let mut start = 0;
    for (at, byte) in bytes.iter().enumerate() {
        if !byte.is_ascii_alphanumeric() {
            if is_word(&bytes[start..at]) {
                return true;
            }
            start = at + 1;
        }
    }
    is_word(&bytes[start..])
}

/// Whether an argument passes a host value: proven (a host tensor, a numpy array) or, unless it
/// is proven something else, named as one (`self.lens_cpu[:n]`, `x.cpu()`; a tensor parameter's
/// annotation says nothing of its device).
pub fn is_host_value(ty: Ty, text: &str) -> bool {
    ty.is_host_tensor() || ty == Ty::NdArray || ((ty.is_unproven() || ty.is_tensor()) && names_host_buffer(text))
}

/// Data that holds no device memory, by what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostData {
    /// An array in host memory: a host tensor, a numpy array.
    Array,
    /// A Python value: a number, a string, `None`, a shape, a dtype, a device.
    Scalar,
}

impl HostData {
    /// What a parameter that every caller passes such data holds, for the rules.
    pub fn param_ty(self, annotated: Ty) -> Ty {
        match (self, annotated) {
            (HostData::Array, Ty::Tensor { boolean, .. }) => Ty::Tensor { boolean, host: true },
            (HostData::Array, _) => Ty::HOST_TENSOR,
            // Not a tensor: no rule reads it.
            (HostData::Scalar, _) => Ty::Float,
        }
    }
}

/// What kind of host data a value of type `ty` is, if it holds no device memory. (A list or dict
/// may hold device tensors, and is none.)
pub fn host_data(ty: Ty) -> Option<HostData> {
    match ty {
        Ty::Tensor { host: true, .. } | Ty::NdArray => Some(HostData::Array),
        Ty::Int | Ty::Float | Ty::Bool | Ty::Str | Ty::None | Ty::Shape | Ty::Dtype | Ty::Device | Ty::HostDevice => {
            Some(HostData::Scalar)
        }
        _ => None,
    }
}

/// What comparing values of these types gives: a boolean tensor when a tensor is among them, on
/// the host only when every tensor compared is; `None` when no tensor is compared.
pub fn compared_mask(operands: impl IntoIterator<Item = Ty>) -> Option<Ty> {
    let mut all_host: Option<bool> = None;
    for ty in operands {
        if let Ty::Tensor { host, .. } = ty {
            all_host = Some(all_host.unwrap_or(true) && host);
        }
    }
    all_host.map(|host| Ty::Tensor { boolean: true, host })
}

/// The type a jaxtyping/torchtyping/typing annotation head names, if it is a tensor wrapper.
/// `Bool[Tensor, "..."]` is a boolean tensor; `Float[...]`, `Int[...]`, ... plain tensors.
pub fn array_annotation(name: &str) -> Option<Ty> {
    match name {
        "Bool" => Some(Ty::BOOL_TENSOR),
        "Float" | "Int" | "Integer" | "UInt" | "Num" | "Shaped" | "Real" | "Inexact" | "Complex" | "Float16"
        | "Float32" | "Float64" | "BFloat16" | "Int8" | "Int16" | "Int32" | "Int64" | "UInt8" | "Key"
        | "TensorType" => Some(Ty::TENSOR),
        _ => None,
    }
}

/// A qualified tensor type name (`torch.Tensor`, `torch.LongTensor`...).
pub fn tensor_class(qualified: &[&str]) -> Option<Ty> {
    match qualified {
        ["torch", "Tensor"] | ["torch", "nn", "Parameter"] | ["torch", "nn", "parameter", "Parameter"] => {
            Some(Ty::TENSOR)
        }
        ["torch", "BoolTensor"] | ["torch", "cuda", "BoolTensor"] => Some(Ty::BOOL_TENSOR),
        ["torch", name] | ["torch", "cuda", name] if name.ends_with("Tensor") => Some(Ty::TENSOR),
        ["torchtyping", "TensorType"] => Some(Ty::TENSOR),
        _ => None,
    }
}

/// The result of calling `torch.<path>` (the qualified name without the leading `torch`).
/// `n_args` and `has_device_kw` refine a few cases (one-argument `where`, CPU factories).
pub fn torch_call_result(path: &[&str], n_args: usize, has_device_kw: bool, has_dim: bool) -> Ty {
    match path {
        ["cuda" | "accelerator" | "xpu" | "mps", rest @ ..] => match rest {
            ["Stream" | "Event" | "ExternalStream" | "current_stream" | "default_stream"] => Ty::Stream,
            ["is_available" | "is_initialized" | "is_current_stream_capturing"] => Ty::Bool,
            ["device_count" | "current_device" | "memory_allocated" | "max_memory_allocated"] => Ty::Int,
            _ => Ty::Unknown,
        },
        ["Stream" | "Event"] => Ty::Stream,
        ["nn", "functional", ..] | ["linalg", ..] | ["fft", ..] | ["special", ..] => Ty::TENSOR,
        ["nn", "Parameter"] | ["nn", "parameter", "Parameter"] | ["nn", "Buffer"] => Ty::TENSOR,
        // Containers are kept symbolic (their elements may be project classes).
        ["nn", "ModuleList" | "Sequential" | "ModuleDict" | "ParameterList" | "ParameterDict"] => Ty::Unknown,
        ["nn", name] if name.starts_with(char::is_uppercase) => Ty::Layer,
        ["nn", ..]
        | ["distributed", ..]
        | ["distributions", ..]
        | ["utils", ..]
        | ["jit", ..]
        | ["backends", ..]
        | ["compiler", ..]
        | ["autograd", ..]
        | ["optim", ..]
        | ["onnx", ..]
        | ["fx", ..]
        | ["export", ..]
        | ["_dynamo", ..]
        | ["testing", ..]
        | ["library", ..]
        | ["ops", ..]
        | ["hub", ..]
        | ["profiler", ..]
        | ["amp", ..] => Ty::Unknown,
        [name] => torch_function_result(name, n_args, has_device_kw, has_dim),
        _ => Ty::Unknown,
    }
}

fn torch_function_result(name: &str, n_args: usize, has_device_kw: bool, has_dim: bool) -> Ty {
    match name {
        // Predicates (`is_tensor`, `is_autocast_enabled`, `is_autocast_cpu_enabled`,
        // `are_deterministic_algorithms_enabled`, ...) answer with a Python bool.
        "equal" | "allclose" => Ty::Bool,
        _ if name.starts_with("is_") || name.starts_with("are_") => Ty::Bool,
        "numel" | "get_num_threads" | "get_num_interop_threads" => Ty::Int,
        "device" => Ty::Device,
        "Size" | "broadcast_shapes" => Ty::Shape,
        "finfo"
        | "iinfo"
        | "no_grad"
        | "enable_grad"
        | "inference_mode"
        | "set_grad_enabled"
        | "autocast"
        | "compile"
        | "manual_seed"
        | "seed"
        | "get_default_dtype"
        | "set_default_dtype"
        | "set_default_device"
        | "get_default_device"
        | "Generator"
        | "load"
        | "save"
        | "use_deterministic_algorithms"
        | "set_printoptions"
        | "set_float32_matmul_precision"
        | "get_float32_matmul_precision"
        | "typename"
        | "dtype"
        | "cond"
        | "vmap"
        | "func" => Ty::Unknown,
        "chunk" | "split" | "unbind" | "tensor_split" | "hsplit" | "vsplit" | "dsplit" | "sort" | "topk"
        | "kthvalue" | "meshgrid" | "broadcast_tensors" | "unique_consecutive" | "aminmax" | "frexp" | "std_mean"
        | "var_mean" | "histogram" | "lu" | "slogdet" | "geqrf" => Ty::Tensors,
        "max" | "min" | "median" | "mode" | "nanmedian" | "cummax" | "cummin" if has_dim => Ty::Tensors,
        "where" | "nonzero" if n_args == 1 && name == "where" => Ty::Tensors,
        "from_numpy" | "get_rng_state" => Ty::HOST_TENSOR,
        "tensor" | "as_tensor" | "asarray" | "zeros" | "ones" | "empty" | "full" | "arange" | "range" | "linspace"
        | "logspace" | "rand" | "randn" | "randint" | "randperm" | "eye" | "tril_indices" | "triu_indices"
        | "empty_strided" | "frombuffer" => {
            if has_device_kw {
                Ty::TENSOR
            } else {
                Ty::HOST_TENSOR
            }
        }
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "greater" | "less" | "isnan" | "isinf" | "isfinite" | "isposinf"
        | "isneginf" | "isreal" | "isclose" | "isin" | "logical_and" | "logical_or" | "logical_not" | "logical_xor"
        | "signbit" | "all" | "any" | "greater_equal" | "less_equal" | "not_equal" => Ty::BOOL_TENSOR,
        // Getters of settings (`get_autocast_dtype`, `get_device_module`) give no tensor.
        _ if name.starts_with("get_") => Ty::Unknown,
        _ if is_legacy_constructor(name) => Ty::Tensor { boolean: name == "BoolTensor", host: !has_device_kw },
        _ if name.starts_with(char::is_uppercase) => Ty::Unknown,
        _ => Ty::TENSOR,
    }
}

/// The legacy constructors `torch.Tensor(data)`, `torch.LongTensor(data)`, ...: CPU tensors
/// (their CUDA twins live in `torch.cuda`).
pub fn is_legacy_constructor(name: &str) -> bool {
    matches!(
        name,
        "Tensor"
            | "FloatTensor"
            | "DoubleTensor"
            | "HalfTensor"
            | "BFloat16Tensor"
            | "ByteTensor"
            | "CharTensor"
            | "ShortTensor"
            | "IntTensor"
            | "LongTensor"
            | "BoolTensor"
    )
}

/// The result of calling method `name` on a tensor.
pub fn tensor_method_result(receiver: Ty, name: &str, n_args: usize, has_dim: bool) -> Ty {
    match name {
        "item" => Ty::Float,
        "tolist" => Ty::List,
        "numpy" => Ty::NdArray,
        "size" if n_args == 0 && !has_dim => Ty::Shape,
        "size" | "dim" | "ndimension" | "numel" | "nelement" | "element_size" | "get_device" | "data_ptr"
        | "__len__" | "storage_offset" => Ty::Int,
        // A sparse tensor's counts are metadata held on the host (`_nnz()` of a coalesced COO tensor).
        "_nnz" | "sparse_dim" | "dense_dim" | "_dimI" | "_dimV" => Ty::Int,
        "is_coalesced" => Ty::Bool,
        "stride" if n_args == 0 => Ty::Shape,
        "stride" => Ty::Int,
        "is_contiguous" | "is_floating_point" | "is_complex" | "equal" | "allclose" | "is_pinned" | "is_shared"
        | "is_set_to" | "is_nonzero" | "has_names" | "is_signed" | "is_inference" => Ty::Bool,
        "type" if n_args == 0 => Ty::Str,
        "chunk" | "split" | "unbind" | "tensor_split" | "sort" | "topk" | "kthvalue" | "aminmax" | "hsplit"
        | "vsplit" | "unique_consecutive" => Ty::Tensors,
        "max" | "min" | "median" | "mode" | "nanmedian" | "cummax" | "cummin" if n_args > 0 || has_dim => Ty::Tensors,
        "nonzero" if has_dim => Ty::Tensors,
        "cpu" | "pin_memory" => Ty::HOST_TENSOR,
        "cuda" => Ty::TENSOR,
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "isnan" | "isinf" | "isfinite" | "logical_and" | "logical_or"
        | "logical_not" | "logical_xor" | "bool" | "all" | "any" | "isclose" | "signbit" | "isin" | "greater"
        | "less" | "eq_" | "ne_" => Ty::Tensor { boolean: true, host: receiver.is_host_tensor() },
        "to" | "type_as" | "new_tensor" | "new_zeros" | "new_ones" | "new_empty" | "new_full" => {
            receiver.on_same_device()
        }
        "masked_fill" | "masked_fill_" | "clone" | "detach" | "contiguous" | "__invert__" | "bitwise_not"
        | "logical_not_" | "squeeze" | "unsqueeze" | "view" | "reshape" | "expand" | "expand_as" | "flatten"
        | "transpose" | "permute" | "flip" | "roll" | "repeat" | "narrow" | "select" | "t" | "mT" => match receiver {
            Ty::Tensor { boolean, host } => Ty::Tensor { boolean, host },
            _ => Ty::TENSOR,
        },
        _ => receiver.on_same_device(),
    }
}

/// The type of attribute `name` of a tensor.
pub fn tensor_attribute(receiver: Ty, name: &str) -> Ty {
    match name {
        "shape" => Ty::Shape,
        "device" if receiver.is_host_tensor() => Ty::HostDevice,
        "device" => Ty::Device,
        "dtype" => Ty::Dtype,
        "ndim" => Ty::Int,
        "is_cuda" | "requires_grad" | "is_leaf" | "is_sparse" | "is_quantized" | "is_meta" => Ty::Bool,
        "T" | "mT" | "H" | "mH" | "data" => receiver,
        // A `(values, indices)` pair of host tensors is typed as a host tensor (see
        // `Checker::call_result`): its fields are host tensors too.
        "values" | "indices" if receiver.is_host_tensor() => receiver.on_same_device(),
        "grad" | "real" | "imag" => receiver.on_same_device(),
        _ => Ty::Unknown,
    }
}

/// Whether `torch.<name>` is a dtype (`torch.bool`, `torch.int64`, `torch.long`...).
pub fn is_dtype_name(name: &str) -> bool {
    matches!(
        name,
        "bool"
            | "uint8"
            | "int8"
            | "int16"
            | "short"
            | "int32"
            | "int"
            | "int64"
            | "long"
            | "float16"
            | "half"
            | "bfloat16"
            | "float32"
            | "float"
            | "float64"
            | "double"
            | "complex64"
            | "complex128"
            | "cfloat"
            | "cdouble"
            | "float8_e4m3fn"
            | "float8_e5m2"
            | "uint16"
            | "uint32"
            | "uint64"
    )
}

/// Methods of a `torch.nn` layer (or any Module) that return the module itself.
pub fn returns_self_module(method: &str) -> bool {
    matches!(
        method,
        "to" | "cuda"
            | "cpu"
            | "eval"
            | "train"
            | "half"
            | "float"
            | "double"
            | "bfloat16"
            | "requires_grad_"
            | "to_empty"
            | "share_memory"
            | "xpu"
    )
}

/// Builtins that graphlint models; a name counts as the builtin only when nothing in the file
/// rebinds it.
pub fn is_modelled_builtin(name: &str) -> bool {
    matches!(
        name,
        "int"
            | "float"
            | "bool"
            | "complex"
            | "range"
            | "print"
            | "str"
            | "repr"
            | "format"
            | "len"
            | "max"
            | "min"
            | "sorted"
            | "isinstance"
            | "list"
            | "tuple"
            | "dict"
            | "sum"
            | "abs"
            | "any"
            | "all"
            | "enumerate"
            | "zip"
            | "iter"
            | "next"
            | "super"
            | "getattr"
            | "hasattr"
            | "type"
            | "round"
            | "divmod"
            | "reversed"
            | "map"
            | "filter"
            | "id"
            | "hash"
            | "callable"
            | "set"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_buffer_words_outside_ascii() {
        // Non-ASCII text takes the char path: `→` separates words, `ñ` is part of one.
        assert!(names_host_buffer("x→cpu"));
        assert!(names_host_buffer("é_pinned"));
        assert!(!names_host_buffer("ñp"));
        assert!(!names_host_buffer("cpuñ"));
        assert!(names_host_buffer("lens[CPU]"));
        assert!(!names_host_buffer("input_ids"));
    }
}
