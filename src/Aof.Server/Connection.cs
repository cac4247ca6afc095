// One client connection. The protocol, per socket read:
//
//   read → frame every complete command in the buffer → execute them as ONE batch → ONE flush
//
// The engine writes replies straight into the PipeWriter (an IBufferWriter<byte>), so a pipeline of a
// thousand commands that arrives in one read costs one Execute call and one send. Incomplete trailing
// bytes stay in the pipe and are framed again once more arrive. Nothing here looks at what a command
// means: QUIT, CLIENT KILL, MULTI... are the engine's, which tells us to close through
// Session.IsClosing (flush first) or Session.Killed (close now).

using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Aof.Core;
using Aof.Engine;

namespace Aof.Server;

sealed class Connection(Aof.Engine.Server server, Socket socket)
{
    static readonly byte[] MaxClientsReached = "-ERR max number of clients reached\r\n"u8.ToArray();
    static readonly Exception Abandoned = new OperationCanceledException("connection closed before its replies were sent");

    // Reused across reads so a steady client allocates nothing here per command.
    readonly List<byte[][]> batch = [];

    // When the pipe's unread bytes span several segments they are mirrored here contiguously, because
    // RespReader reads a span. `mirrored` bytes at the front are already a copy of the pipe's unread
    // bytes, so each read copies only what is new (a large value arriving in many small reads is not
    // copied over and over).
    byte[] contiguous = [];
    int mirrored;

    public async Task RunAsync(CancellationToken hostStopping)
    {
        Microsoft.FSharp.Core.FSharpValueOption<Session> connected;
        try
        {
            connected = server.Connect(socket.RemoteEndPoint?.ToString() ?? "", socket.LocalEndPoint?.ToString() ?? "");
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"Refusing a client after an unexpected error: {e}");
            Close();
            return;
        }
        if (connected.IsNone)
        {
            try { socket.Send(MaxClientsReached); } catch (SocketException) { }
            Close();
            return;
        }
        var session = connected.Value;
        try
        {
            await ServeAsync(session, hostStopping);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The peer went away, or we were told to drop it: nothing to report, the socket is closed below.
        }
        catch (Exception e)
        {
            // An engine bug must not take the process down, but it must be visible.
            Console.Error.WriteLine($"Closing client {session.Id} after an unexpected error: {e}");
        }
        finally
        {
            Close();
            if (contiguous.Length > 0) ArrayPool<byte>.Shared.Return(contiguous);
            server.Disconnect(session);
        }
    }

    async Task ServeAsync(Session session, CancellationToken hostStopping)
    {
        // Cancelled by CLIENT KILL/timeout (engine) or by shutdown (host): aborts a pending read or flush.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(session.Killed, hostStopping);
        var token = stop.Token;
        var stream = new NetworkStream(socket, ownsSocket: false);
        // Zero-byte reads keep idle clients from each pinning a receive buffer.
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, leaveOpen: true, useZeroByteReads: false));
        var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        var queryBufferLimit = server.Settings.ClientQueryBufferLimit;
        var clean = false;
        try
        {
            // A read started while the client was blocked and still outstanding when it was woken.
            Task<ReadResult>? pendingRead = null;
            while (true)
            {
                var result = pendingRead is not null ? await pendingRead : await reader.ReadAsync(token);
                pendingRead = null;
                var buffer = result.Buffer;
                if (buffer.Length > Array.MaxLength) return; // cannot be made contiguous; far past any sane limit
                // Asked per read: the limits tighten until the client authenticates, and CONFIG SET may move them.
                var status = Framing.Frame(Contiguous(buffer), server.Limits(session), batch, out var consumed, out var error);
                var remaining = buffer.Length - consumed;
                reader.AdvanceTo(buffer.GetPosition(consumed), buffer.End);
                Forget(consumed);

                var wrote = batch.Count > 0;
                if (wrote)
                {
                    // Completes at once unless `appendfsync always` must see this batch synced first;
                    // meanwhile this thread goes on serving other clients.
                    await server.Execute(session, batch, writer);
                    batch.Clear();
                }
                if (status == ReadStatus.ProtocolError)
                {
                    server.ProtocolError(session, error ?? "Protocol error", writer);
                    wrote = true;
                }
                // A client that killed itself (CLIENT KILL ... SKIPME no) still gets that batch's replies, as
                // in Redis; `token` is cancelled by then, so only a shutdown may abort this flush.
                if (wrote) await writer.FlushAsync(session.Killed.IsCancellationRequested ? hostStopping : token);
                // A blocking command (BLPOP...) found nothing: the replies before it are sent; now wait until
                // the engine serves it or it times out, watching the socket meanwhile so that a client that
                // leaves is let go. Commands it sends meanwhile wait in the pipe for their turn.
                var gone = false;
                while (session.Blocked is { } blocked && !session.IsClosing)
                {
                    pendingRead ??= reader.ReadAsync(token).AsTask();
                    var first = await Task.WhenAny(blocked.Woken, pendingRead);
                    if (first == pendingRead && !blocked.Woken.IsCompleted)
                    {
                        var more = await pendingRead;
                        pendingRead = null;
                        if (more.IsCompleted) { gone = true; break; }
                        reader.AdvanceTo(more.Buffer.Start);
                        await blocked.Woken.WaitAsync(token);
                    }
                    await server.Resume(session, writer);
                    await writer.FlushAsync(token);
                }
                if (gone) break;
                // Every reply written so far has been flushed: from here on, leaving is always clean.
                if (status == ReadStatus.ProtocolError || session.IsClosing || token.IsCancellationRequested) break;
                // `client-query-buffer-limit`: a client that keeps sending an unfinishable command is dropped.
                if (remaining > queryBufferLimit) break;
                if (result.IsCompleted) break;
            }
            clean = true;
        }
        finally
        {
            reader.Complete();
            // Completing without an error would synchronously send whatever a cancelled flush left behind,
            // which can block forever on a client that stopped reading; with one it just drops it.
            writer.Complete(clean ? null : Abandoned);
        }
    }

    /// <summary>The pipe's unread bytes as one span, copying only when they span several segments.</summary>
    ReadOnlySpan<byte> Contiguous(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsSingleSegment)
        {
            mirrored = 0;
            return buffer.FirstSpan;
        }
        var length = (int)buffer.Length;
        if (contiguous.Length < length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(length, 2 * contiguous.Length));
            contiguous.AsSpan(0, mirrored).CopyTo(bigger);
            if (contiguous.Length > 0) ArrayPool<byte>.Shared.Return(contiguous);
            contiguous = bigger;
        }
        buffer.Slice(mirrored).CopyTo(contiguous.AsSpan(mirrored));
        mirrored = length;
        return contiguous.AsSpan(0, length);
    }

    /// <summary>Keeps the mirror in step with the pipe after <paramref name="consumed"/> bytes were taken.</summary>
    void Forget(int consumed)
    {
        if (mirrored == 0 || consumed == 0) return;
        mirrored -= consumed;
        contiguous.AsSpan(consumed, mirrored).CopyTo(contiguous);
    }

    void Close()
    {
        // FIN after the last reply rather than a reset, so a client reading QUIT's +OK gets it.
        try { socket.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        socket.Dispose();
    }
}
