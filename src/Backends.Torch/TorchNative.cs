using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Gateway.Backends.Torch;

/// <summary>
/// Tensors over memory the gateway owns. TorchSharp's public factories copy a <c>Memory&lt;T&gt;</c>
/// and reinterpret no bytes; libLibTorchSharp's own <c>THSTensor_new</c> (libtorch's
/// <c>from_blob</c>) wraps a pointer without copying, so the request's pooled bytes are the
/// tensor's storage on the CPU (and the source of the one host-to-device copy on CUDA).
/// </summary>
internal static unsafe partial class TorchNative
{
    /// <summary>
    /// Wraps <paramref name="data"/> (pinned by the caller for as long as the tensor or any view
    /// of it lives) as a tensor of <paramref name="type"/>; on a device other than the CPU,
    /// libtorch copies it there and the result owns device memory.
    /// </summary>
    public static Tensor FromBlob(void* data, ReadOnlySpan<long> shape, ScalarType type, DeviceType deviceType, int deviceIndex)
    {
        fixed (long* sizes = shape)
        {
            var handle = THSTensor_new(data, &KeepData, sizes, shape.Length, (sbyte)type, (sbyte)type, (int)deviceType, deviceIndex, false);
            if (handle == 0)
            {
                torch.CheckForErrors();
                throw new InvalidOperationException("libtorch created no tensor over the request's memory");
            }

            return Tensor.UnsafeCreateTensor(handle);
        }
    }

    // Signature of libLibTorchSharp 0.107.0 (THSTensor.cpp): the element type of the data, then of the tensor.
    [LibraryImport("LibTorchSharp")]
    private static partial nint THSTensor_new(
        void* data,
        delegate* unmanaged[Cdecl]<void*, void> deleter,
        long* sizes,
        int sizesLength,
        sbyte scalarType,
        sbyte dtype,
        int deviceType,
        int deviceIndex,
        [MarshalAs(UnmanagedType.U1)] bool requiresGrad);

    /// <summary>libtorch's deleter: nothing to free, the request owns the memory and unpins it itself.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void KeepData(void* data)
    {
    }
}
