using System.Net;
using System.Net.Http.Headers;
using Flywheel.Server.Hosting;
using static Flywheel.Server.Tests.OpenAi.ErrorResponseTests;
using static Flywheel.Server.Tests.ServerHarness;

namespace Flywheel.Server.Tests.Edge;

/// <summary>API key, Host (DNS rebinding), CORS and Content-Type rules on a real server on 127.0.0.1 (scripted backend).</summary>
public sealed class AccessControlTests
{
    [Fact]
    public async Task WithAKeyV1NeedsItAndHealthStaysOpen()
    {
        await using var server = await StartAsync(o => o.ApiKeys = ["sk-first", "sk-second"]);

        using var none = await server.PostAsync("/v1/chat/completions", Chat("a"));
        var error = await ErrorAsync(none, HttpStatusCode.Unauthorized, "invalid_api_key");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal("Bearer", Assert.Single(none.Headers.WwwAuthenticate).Scheme);

        foreach (var wrong in (string[])["Bearer sk-firs", "Bearer sk-first2", "Basic c2stZmlyc3Q=", "sk-first", "Bearer "])
        {
            using var request = Post("/v1/chat/completions", Chat("a"));
            request.Headers.TryAddWithoutValidation("Authorization", wrong);
            using var refused = await server.Client.SendAsync(request);
            Assert.Contains("Incorrect API key", (await ErrorAsync(refused, HttpStatusCode.Unauthorized, "invalid_api_key")).GetProperty("message").GetString());
        }

        foreach (var key in (string[])["sk-first", "sk-second"])
        {
            using var request = Post("/v1/chat/completions", Chat("a b"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var accepted = await server.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        }

        using var models = await server.Client.GetAsync("/v1/models");
        await ErrorAsync(models, HttpStatusCode.Unauthorized, "invalid_api_key");
        using var live = await server.Client.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        using var ready = await server.Client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("require an API key (2 accepted)", server.Output.ToString());
    }

    [Fact]
    public async Task WithoutAKeyTheServerSaysItIsUnauthenticated()
    {
        await using var server = await StartAsync();
        using var response = await server.PostAsync("/v1/chat/completions", Chat("a"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("UNAUTHENTICATED", server.Output.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    public async Task PostsMustDeclareJson(string? contentType)
    {
        await using var server = await StartAsync();
        var content = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(Chat("a")));
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        using var response = await server.Client.PostAsync("/v1/chat/completions", content);

        await ErrorAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
    }

    [Theory]
    [InlineData("evil.example", false)]
    [InlineData("evil.example:8000", false)]
    [InlineData("127.0.0.1.evil.example", false)]
    [InlineData("localhost.evil.example", false)]
    [InlineData("10.0.0.1", false)]
    [InlineData("2130706433", false)]
    [InlineData("localhost", true)]
    [InlineData("LOCALHOST:1234", true)]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.3.2.1:80", true)]
    [InlineData("[::1]", true)]
    [InlineData("[::1]:8000", true)]
    [InlineData("myhost.lan:8000", true)]
    public async Task OnLoopbackOnlyLoopbackHostNamesAreServed(string host, bool served)
    {
        await using var server = await StartAsync(o => o.AllowedHosts = ["myhost.lan"]);
        foreach (var path in (string[])["/v1/models", "/health/live"])
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Host = host;
            using var response = await server.Client.SendAsync(request);

            if (served)
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
            else
            {
                Assert.Contains(host, (await ErrorAsync(response, HttpStatusCode.Forbidden, "host_not_allowed")).GetProperty("message").GetString());
            }
        }
    }

    [Fact]
    public async Task AStarAllowsAnyHost()
    {
        await using var server = await StartAsync(o => o.AllowedHosts = ["*"]);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Host = "evil.example";
        using var response = await server.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task CorsIsOffByDefault()
    {
        await using var server = await StartAsync();
        using var preflight = await server.Client.SendAsync(Preflight("https://app.example"));
        using var post = Post("/v1/chat/completions", Chat("a"));
        post.Headers.Add("Origin", "https://app.example");
        using var response = await server.Client.SendAsync(post);

        Assert.False(preflight.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.NotEqual(HttpStatusCode.NoContent, preflight.StatusCode);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task CorsAllowsTheConfiguredOriginOnlyAndPreflightsNeedNoKey()
    {
        await using var server = await StartAsync(o =>
        {
            o.CorsOrigins = ["https://app.example"];
            o.ApiKeys = ["sk-test"];
        });

        using var allowed = await server.Client.SendAsync(Preflight("https://app.example"));
        Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
        Assert.Equal("https://app.example", Assert.Single(allowed.Headers.GetValues("Access-Control-Allow-Origin")));
        Assert.Contains("authorization", string.Join(",", allowed.Headers.GetValues("Access-Control-Allow-Headers")), StringComparison.OrdinalIgnoreCase);

        using var other = await server.Client.SendAsync(Preflight("https://evil.example"));
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));

        using var post = Post("/v1/chat/completions", Chat("a"));
        post.Headers.Add("Origin", "https://app.example");
        post.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sk-test");
        using var response = await server.Client.SendAsync(post);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("https://app.example", Assert.Single(response.Headers.GetValues("Access-Control-Allow-Origin")));
    }

    [Theory]
    [InlineData("https://app.example/")]
    [InlineData("https://app.example/path")]
    [InlineData("app.example")]
    public void OriginsMustBeOrigins(string origin) =>
        Assert.Throws<ArgumentException>(() => new ServerOptions { CorsOrigins = [origin] }.Validate());

    [Fact]
    public void ProtectedMetricsNeedAKey() =>
        Assert.Throws<ArgumentException>(() => new ServerOptions { MetricsRequireKey = true }.Validate());

    private static HttpRequestMessage Preflight(string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, "/v1/chat/completions");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization, content-type");
        return request;
    }
}
