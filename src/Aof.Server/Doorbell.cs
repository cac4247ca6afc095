// Defers work to the socket event loop: ringing it (from any thread, the loop's own included) makes the
// loop run the handler after the socket events it already has in hand. The loop only wakes for socket
// events, so the doorbell is a socket pair: a ring writes one byte to one end and the loop's pending
// receive on the other end completes (on the epoll thread itself, with inline completions). A ring while
// one is still unanswered sends nothing.

using System.Net;
using System.Net.Sockets;

namespace Aof.Server;

sealed class Doorbell : IDisposable
{
    static readonly byte[] One = [1];

    readonly Socket ringer;
    readonly Socket bell;
    readonly Action onRing;
    // 1 from a ring until the loop takes it: later rings coalesce into that one.
    int rung;

    Doorbell(Socket ringer, Socket bell, Action onRing)
    {
        this.ringer = ringer;
        this.bell = bell;
        this.onRing = onRing;
    }

    /// <summary>A connected pair and its listening loop, or null where the machine cannot make one.</summary>
    public static Doorbell? Open(Action onRing)
    {
        try
        {
            var (ringer, bell) = Pair();
            var doorbell = new Doorbell(ringer, bell, onRing);
            _ = doorbell.ListenAsync();
            return doorbell;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    public void Ring()
    {
        if (Interlocked.Exchange(ref rung, 1) != 0) return;
        try
        {
            ringer.Send(One);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Closing: the engine releases whatever is left itself once the doorbell is taken back.
        }
    }

    async Task ListenAsync()
    {
        var buffer = new byte[64];
        while (true)
        {
            int n;
            try
            {
                n = await bell.ReceiveAsync(buffer, SocketFlags.None);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
            if (n == 0) return;
            // Reset before handling, so a ring that comes in while the handler runs is not lost.
            Interlocked.Exchange(ref rung, 0);
            try
            {
                onRing();
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"Unexpected error while releasing synced replies: {e}");
            }
        }
    }

    // A Unix socket pair where there is one (cheaper per ring than TCP), loopback TCP otherwise.
    static (Socket, Socket) Pair()
    {
        EndPoint at = OperatingSystem.IsLinux()
            ? new UnixDomainSocketEndPoint("\0aof-doorbell-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N"))
            : new IPEndPoint(IPAddress.Loopback, 0);
        var protocol = at is IPEndPoint ? ProtocolType.Tcp : ProtocolType.Unspecified;
        using var listener = new Socket(at.AddressFamily, SocketType.Stream, protocol);
        listener.Bind(at);
        listener.Listen(1);
        var ringer = new Socket(at.AddressFamily, SocketType.Stream, protocol);
        try
        {
            ringer.Connect(listener.LocalEndPoint!);
            if (protocol == ProtocolType.Tcp) ringer.NoDelay = true;
            return (ringer, listener.Accept());
        }
        catch
        {
            ringer.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        ringer.Dispose();
        bell.Dispose();
    }
}
