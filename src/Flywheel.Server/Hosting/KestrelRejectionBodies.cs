using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Flywheel.Server.OpenAi;
using Microsoft.AspNetCore.Connections;

namespace Flywheel.Server.Hosting;

/// <summary>
/// Gives the statuses Kestrel produces on its own (400 for a request it cannot parse, 408, 411, 413, 414 URL
/// too long, 431 headers too large, 505) an OpenAI-shaped body. Kestrel answers those before any middleware
/// runs, with <c>Content-Length: 0</c>, and offers no hook for a body; so this connection middleware sits
/// under HTTP/1.1 and rewrites exactly that response: a flush holding nothing but a 4xx/5xx head with
/// <c>Content-Length: 0</c> and <c>Connection: close</c> (the app's own errors always carry bodies).
/// </summary>
internal static class KestrelRejectionBodies
{
    /// <summary>For <c>ListenOptions.Use</c>.</summary>
    public static ConnectionDelegate Middleware(ConnectionDelegate next) => connection =>
    {
        var transport = connection.Transport;
        connection.Transport = new Pipe(transport.Input, new RewritingWriter(transport.Output));
        return next(connection);
    };

    /// <summary>The replacement for one head, or null to pass it through unchanged.</summary>
    internal static byte[]? Rewrite(ReadOnlySpan<byte> written)
    {
        // "HTTP/1.1 414 URI Too Long\r\n...\r\n\r\n" and nothing after the blank line.
        if (written.Length < 16 || written.Length > 4096 || !written.StartsWith("HTTP/1."u8) || written[12] != (byte)' '
            || !written.EndsWith("\r\n\r\n"u8) || written[..^4].IndexOf("\r\n\r\n"u8) >= 0
            || !int.TryParse(Encoding.ASCII.GetString(written[9..12]), out var status) || status < 400)
        {
            return null;
        }

        var lines = Encoding.ASCII.GetString(written[..^4]).Split("\r\n");
        var headers = lines.Skip(1).ToList();
        if (!headers.Any(h => h.Equals("Content-Length: 0", StringComparison.OrdinalIgnoreCase))
            || !headers.Any(h => h.Equals("Connection: close", StringComparison.OrdinalIgnoreCase)))
        {
            return null;
        }

        var error = new OpenAiError(status, Message(status), status >= 500 ? "server_error" : "invalid_request_error", null, ServerErrors.KestrelStatusCode(status));
        var body = JsonSerializer.SerializeToUtf8Bytes(error.ToEnvelope(), OpenAiJson.Options);
        var head = new StringBuilder(lines[0]).Append("\r\n");
        foreach (var header in headers.Where(h => !h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)))
        {
            head.Append(header).Append("\r\n");
        }

        head.Append("Content-Type: application/json\r\nContent-Length: ").Append(body.Length).Append("\r\n\r\n");
        return [.. Encoding.ASCII.GetBytes(head.ToString()), .. body];
    }

    private static string Message(int status) => status switch
    {
        400 => "The request is not valid HTTP (its request line, a header or the body framing could not be parsed).",
        408 => "The request did not arrive in time (its headers or body came too slowly).",
        411 => "The request has a body but no Content-Length.",
        413 => "The request body is larger than the server accepts.",
        414 => "The request URL is longer than the server accepts.",
        431 => "The request headers are larger than the server accepts.",
        505 => "The HTTP version is not supported.",
        _ => $"The request was refused with HTTP status {status}.",
    };

    private sealed class Pipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>
    /// Holds what Kestrel writes until it flushes, then passes it on (rewritten when it is a bodiless
    /// rejection). Every response ends with a flush, so a rejection head is always one flush on its own.
    /// </summary>
    private sealed class RewritingWriter(PipeWriter inner) : PipeWriter
    {
        private const int KeptCapacity = 64 * 1024;
        private ArrayBufferWriter<byte> _pending = new(4096);

        // Kestrel's output producer and System.Text.Json's flush threshold both ask for this.
        public override bool CanGetUnflushedBytes => true;

        public override long UnflushedBytes => _pending.WrittenCount + (inner.CanGetUnflushedBytes ? inner.UnflushedBytes : 0);

        public override void Advance(int bytes) => _pending.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => _pending.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => _pending.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            PassOn();
            return inner.FlushAsync(cancellationToken);
        }

        public override void Complete(Exception? exception = null)
        {
            PassOn();
            inner.Complete(exception);
        }

        public override ValueTask CompleteAsync(Exception? exception = null)
        {
            PassOn();
            return inner.CompleteAsync(exception);
        }

        private void PassOn()
        {
            if (_pending.WrittenCount == 0)
            {
                return;
            }

            var written = _pending.WrittenSpan;
            inner.Write(Rewrite(written) ?? written);
            // A long-lived connection keeps its buffer, but not one grown by a single large response.
            if (_pending.Capacity > KeptCapacity)
            {
                _pending = new ArrayBufferWriter<byte>(4096);
            }
            else
            {
                _pending.ResetWrittenCount();
            }
        }
    }
}
