using System.Security.Cryptography;
using System.Text;

namespace Gateway.Documentation;

/// <summary>
/// <c>GET /docs</c>: one self-contained page (HTML, CSS and script embedded in the binary, about
/// 20 KB; no library and nothing from a CDN, so it works offline) that fetches
/// <c>/openapi/v1.json</c>, lists every operation and can send requests with a token or API key.
/// The style and script are inline and allowed by their SHA-256 in the page's
/// Content-Security-Policy, so nothing else can run in it.
/// </summary>
internal sealed class DocsPage
{
    private const string ResourcePrefix = "Gateway.Documentation.Page.";

    private readonly byte[] _html;
    private readonly string _policy;

    private DocsPage(byte[] html, string policy)
    {
        _html = html;
        _policy = policy;
    }

    /// <summary>The page's Content-Security-Policy.</summary>
    public string Policy => _policy;

    /// <summary>Builds the page from its embedded parts; fails at start-up if a part is missing.</summary>
    public static DocsPage Load()
    {
        var template = Read("docs.html");
        var style = Read("docs.css");
        var script = Read("docs.js");
        var html = template.Replace("/*STYLE*/", style, StringComparison.Ordinal).Replace("/*SCRIPT*/", script, StringComparison.Ordinal);
        var policy = "default-src 'none'; " +
            $"script-src 'sha256-{Hash(script)}'; style-src 'sha256-{Hash(style)}'; " +
            "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
        return new DocsPage(Encoding.UTF8.GetBytes(html), policy);
    }

    public Task WriteAsync(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/html; charset=utf-8";
        response.ContentLength = _html.Length;
        var headers = response.Headers;
        headers.ContentSecurityPolicy = _policy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-cache";
        return response.Body.WriteAsync(_html, 0, _html.Length, context.RequestAborted);
    }

    private static string Read(string name)
    {
        using var stream = typeof(DocsPage).Assembly.GetManifestResourceStream(ResourcePrefix + name)
            ?? throw new InvalidOperationException($"the docs page's resource {ResourcePrefix + name} is not embedded in the binary");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private static string Hash(string text) => Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
