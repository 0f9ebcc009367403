using System.Text.Json;
using Gateway.Abstractions;
using Gateway.Repository;

namespace Gateway.Protocol;

/// <summary>Builds metadata responses once, at load, so serving them costs a copy.</summary>
internal static class V2Metadata
{
    public static byte[] Serialise(ServedModel model, ModelVersion version)
    {
        var versions = new string[model.Versions.Count];
        for (var i = 0; i < versions.Length; i++)
        {
            versions[i] = model.Versions[i].VersionText;
        }

        var response = new ModelMetadataResponse
        {
            Name = model.Name,
            Versions = versions,
            Platform = version.Platform,
            Inputs = Tensors(version.Signature.Inputs),
            Outputs = Tensors(version.Signature.Outputs),
        };
        return JsonSerializer.SerializeToUtf8Bytes(response, V2JsonContext.Default.ModelMetadataResponse);
    }

    private static TensorMetadata[] Tensors(IReadOnlyList<TensorSpec> specs)
    {
        var result = new TensorMetadata[specs.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = new TensorMetadata
            {
                Name = specs[i].Name,
                DataType = specs[i].DataType.Name(),
                Shape = specs[i].Shape.ToArray(),
            };
        }

        return result;
    }
}
