using System.Net.Sockets;
using System.Text;

namespace Aof.Server.Tests;

/// <summary>A RESP2 reply as a small tree, printed the way redis-cli would show it.</summary>
public abstract record Reply
{
    public sealed record Status(string Text) : Reply
    {
        public override string ToString() => Text;
    }

    public sealed record Error(string Text) : Reply
    {
        public override string ToString() => $"(error) {Text}";
    }

    public sealed record Integer(long Value) : Reply
    {
        public override string ToString() => $"(integer) {Value}";
    }

    /// <summary>A bulk string; <c>Bytes</c> is null for the nil bulk (<c>$-1</c>).</summary>
    public sealed record Bulk(byte[]? Bytes) : Reply
    {
        public string? Text => Bytes is null ? null : Encoding.UTF8.GetString(Bytes);
        public override string ToString() => Bytes is null ? "(nil)" : $"\"{Text}\"";
    }

    /// <summary>An array; <c>Items</c> is null for the nil array (<c>*-1</c>, e.g. an aborted EXEC).</summary>
    public sealed record Array(Reply[]? Items) : Reply
    {
        public override string ToString() => Items is null ? "(nil array)" : $"[{string.Join(", ", Items.Select(i => i.ToString()))}]";
    }
}

/// <summary>
/// A deliberately simple RESP client for tests: commands go out as RESP arrays of bulk strings (or raw
/// bytes), replies come back one at a time. Every read has a timeout, so a server that never answers
/// fails the test instead of hanging it.
/// </summary>
public sealed class TestClient : IAsyncDisposable
{
    public static TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    readonly Socket socket;
    readonly NetworkStream stream;
    readonly byte[] buffer = new byte[64 * 1024];
    int start, end;

    TestClient(Socket socket)
    {
        this.socket = socket;
        stream = new NetworkStream(socket, ownsSocket: true);
    }

    public static async Task<TestClient> ConnectAsync(int port, string host = "127.0.0.1")
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var timeout = new CancellationTokenSource(DefaultTimeout);
            await socket.ConnectAsync(host, port, timeout.Token);
            return new TestClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A command as a RESP array of bulk strings.</summary>
    public static byte[] Encode(params byte[][] args)
    {
        var output = new MemoryStream();
        output.Write(Encoding.ASCII.GetBytes($"*{args.Length}\r\n"));
        foreach (var arg in args)
        {
            output.Write(Encoding.ASCII.GetBytes($"${arg.Length}\r\n"));
            output.Write(arg);
            output.Write("\r\n"u8);
        }
        return output.ToArray();
    }

    public static byte[] Encode(params string[] args) => Encode(args.Select(Encoding.UTF8.GetBytes).ToArray());

    public Task SendAsync(params string[] args) => SendRawAsync(Encode(args));

    public Task SendAsync(params byte[][] args) => SendRawAsync(Encode(args));

    public Task SendRawAsync(string text) => SendRawAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendRawAsync(byte[] bytes)
    {
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await stream.WriteAsync(bytes, timeout.Token);
    }

    /// <summary>Half-closes: the server sees the end of the input, and may still answer.</summary>
    public void ShutdownSend() => socket.Shutdown(SocketShutdown.Send);

    public async Task<Reply> CallAsync(params string[] args)
    {
        await SendAsync(args);
        return await ReadAsync();
    }

    public async Task<Reply> CallAsync(params byte[][] args)
    {
        await SendAsync(args);
        return await ReadAsync();
    }

    // Typed calls: each fails with the reply it got, so a wrong answer reads like redis-cli output.
    public async Task<string> StatusAsync(params string[] args) => Expect<Reply.Status>(await CallAsync(args), args).Text;
    public async Task<long> IntAsync(params string[] args) => Expect<Reply.Integer>(await CallAsync(args), args).Value;
    public async Task<string?> BulkAsync(params string[] args) => Expect<Reply.Bulk>(await CallAsync(args), args).Text;
    public async Task<string> ErrorAsync(params string[] args) => Expect<Reply.Error>(await CallAsync(args), args).Text;
    public async Task<Reply[]?> ArrayAsync(params string[] args) => Expect<Reply.Array>(await CallAsync(args), args).Items;

    static T Expect<T>(Reply reply, string[] command) where T : Reply =>
        reply as T ?? throw new Xunit.Sdk.XunitException(
            $"{string.Join(' ', command)} → expected {typeof(T).Name}, got {reply}");

    /// <summary>Reads one reply of any type.</summary>
    public async Task<Reply> ReadAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            return await ReadReplyAsync(cancel.Token);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            throw new TimeoutException($"no complete reply within {timeout ?? DefaultTimeout}");
        }
    }

    /// <summary>
    /// True once the server has closed the connection (EOF or reset) within <paramref name="timeout"/>;
    /// false if it is still open then. Fails if the server sends anything meanwhile.
    /// </summary>
    public async Task<bool> IsClosedByServerAsync(TimeSpan? timeout = null)
    {
        if (end > start) throw new Xunit.Sdk.XunitException($"unread reply data: {Encoding.UTF8.GetString(buffer, start, end - start)}");
        using var cancel = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            var read = await stream.ReadAsync(buffer.AsMemory(0, 1), cancel.Token);
            if (read == 0) return true;
            throw new Xunit.Sdk.XunitException($"expected the connection to close, got more data: {(char)buffer[0]}...");
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return false;
        }
        catch (IOException)
        {
            return true; // reset by peer
        }
    }

    async Task<Reply> ReadReplyAsync(CancellationToken token)
    {
        var line = await ReadLineAsync(token);
        var body = line[1..];
        switch (line[0])
        {
            case '+': return new Reply.Status(body);
            case '-': return new Reply.Error(body);
            case ':': return new Reply.Integer(long.Parse(body));
            case '$':
                {
                    var length = int.Parse(body);
                    if (length < 0) return new Reply.Bulk(null);
                    var bytes = await ReadExactAsync(length + 2, token);
                    return new Reply.Bulk(bytes[..length]);
                }
            case '*':
                {
                    var count = int.Parse(body);
                    if (count < 0) return new Reply.Array(null);
                    var items = new Reply[count];
                    for (var i = 0; i < count; i++) items[i] = await ReadReplyAsync(token);
                    return new Reply.Array(items);
                }
            default:
                throw new Xunit.Sdk.XunitException($"not a RESP2 reply: {line}");
        }
    }

    async Task<string> ReadLineAsync(CancellationToken token)
    {
        while (true)
        {
            var newline = System.Array.IndexOf(buffer, (byte)'\n', start, end - start);
            if (newline > start && buffer[newline - 1] == '\r')
            {
                var line = Encoding.UTF8.GetString(buffer, start, newline - 1 - start);
                start = newline + 1;
                return line;
            }
            await FillAsync(token);
        }
    }

    async Task<byte[]> ReadExactAsync(int count, CancellationToken token)
    {
        var result = new byte[count];
        var copied = 0;
        while (copied < count)
        {
            if (start == end) await FillAsync(token);
            var n = Math.Min(count - copied, end - start);
            System.Array.Copy(buffer, start, result, copied, n);
            start += n;
            copied += n;
        }
        return result;
    }

    async Task FillAsync(CancellationToken token)
    {
        if (start > 0)
        {
            System.Array.Copy(buffer, start, buffer, 0, end - start);
            end -= start;
            start = 0;
        }
        if (end == buffer.Length) throw new Xunit.Sdk.XunitException("reply line longer than the test client's buffer");
        var read = await stream.ReadAsync(buffer.AsMemory(end), token);
        if (read == 0) throw new EndOfStreamException("the server closed the connection");
        end += read;
    }

    public ValueTask DisposeAsync()
    {
        stream.Dispose();
        socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
