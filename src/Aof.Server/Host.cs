using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Aof.Engine;

namespace Aof.Server;

/// <summary>Binding failed: <see cref="Exception.Message"/> holds the lines redis-server would log.</summary>
public sealed class HostBindException(string message) : Exception(message);

/// <summary>
/// The socket side of the server: listens on every <c>bind</c> address, accepts clients and runs one
/// <see cref="Connection"/> loop per client. It knows nothing about commands; the engine does.
/// Reusable in-process (tests) as well as from <c>Program</c>.
/// </summary>
public sealed class Host : IAsyncDisposable
{
    readonly Aof.Engine.Server server;
    readonly List<Socket> listeners;
    // Live connection loops, so shutdown can wait for them to finish their Disconnect.
    readonly ConcurrentDictionary<Connection, Task> connections = new();
    readonly CancellationTokenSource stopping = new();
    // Linux: our own epoll loop (EventLoop). Elsewhere: .NET's sockets, one async loop per client, and
    // a doorbell the batches that wait for the round's write ring; it sounds on .NET's event thread after
    // the events in hand, and the engine then commits the whole round at once (UseRoundBell).
    readonly EventLoop? loop;
    readonly Doorbell? roundEnd;
    Task looping = Task.CompletedTask;

    Host(Aof.Engine.Server server, List<Socket> listeners, bool portable)
    {
        this.server = server;
        this.listeners = listeners;
        if (!portable && Epoll.Available)
        {
            loop = new EventLoop(server, listeners);
            server.UseRoundBell(loop.RingRound);
            return;
        }
        roundEnd = Doorbell.Open(server.RoundEnded);
        if (roundEnd is not null) server.UseRoundBell(roundEnd.Ring);
    }

    /// <summary>The addresses actually listened on (useful when a test asks for an ephemeral port).</summary>
    public IReadOnlyList<IPEndPoint> EndPoints => listeners.Select(l => (IPEndPoint)l.LocalEndPoint!).ToList();

    /// <summary>Binds every address of <c>Settings.Bind</c> at <c>Settings.Port</c>, or throws <see cref="HostBindException"/>.</summary>
    public static Host Listen(Aof.Engine.Server server) => Listen(server, portable: false);

    /// <summary>As <see cref="Listen(Aof.Engine.Server)"/>, but served by .NET's sockets, as on platforms without epoll.</summary>
    public static Host ListenPortable(Aof.Engine.Server server) => Listen(server, portable: true);

    static Host Listen(Aof.Engine.Server server, bool portable)
    {
        var settings = server.Settings;
        var bound = new List<Socket>();
        foreach (var entry in settings.Bind)
        {
            // Redis's `-addr` means "skip this one if the machine cannot have it" (e.g. no IPv6).
            var optional = entry.StartsWith('-');
            var name = optional ? entry[1..] : entry;
            try
            {
                foreach (var address in Resolve(name))
                    bound.Add(Bind(new IPEndPoint(address, settings.Port)));
            }
            catch (SocketException e) when (optional && e.SocketErrorCode is SocketError.AddressNotAvailable
                                                or SocketError.AddressFamilyNotSupported or SocketError.ProtocolNotSupported)
            {
            }
            catch (SocketException e)
            {
                foreach (var socket in bound) socket.Dispose();
                throw new HostBindException(
                    $"Warning: Could not create server TCP listening socket {name}:{settings.Port}: bind: {e.Message}\n" +
                    $"Failed listening on port {settings.Port} (tcp), aborting.");
            }
        }
        if (bound.Count == 0)
            throw new HostBindException($"Failed listening on port {settings.Port} (tcp), aborting.");
        return new Host(server, bound, portable);
    }

    /// <summary>Listens, then serves until <paramref name="stop"/> is cancelled.</summary>
    public static async Task RunAsync(Aof.Engine.Server server, CancellationToken stop)
    {
        await using var host = Listen(server);
        await host.RunAsync(stop);
    }

    /// <summary>Accepts clients until <paramref name="stop"/> is cancelled, then closes every client and waits for them.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        using var link = stop.Register(static s => ((CancellationTokenSource)s!).Cancel(), stopping);
        // SHUTDOWN stops the host even where the caller's token is another one (an embedding, the tests).
        using var shutdown = server.ShutdownRequested.Register(static s => ((CancellationTokenSource)s!).Cancel(), stopping);
        if (loop is not null)
        {
            looping = RunLoop(loop);
            using var halt = stopping.Token.Register(loop.Stop);
            await looping;
            return;
        }
        await Task.WhenAll(listeners.Select(AcceptLoop));
        await CloseAllAsync();
    }

    static Task RunLoop(EventLoop loop)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                loop.Run();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }) { Name = "aof-loop", IsBackground = true };
        thread.Start();
        return done.Task;
    }

    async Task AcceptLoop(Socket listener)
    {
        var token = stopping.Token;
        while (!token.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException)
            {
                // Out of descriptors or an aborted handshake: back off a little instead of spinning.
                try { await Task.Delay(50, token); } catch (OperationCanceledException) { break; }
                continue;
            }
            Start(client);
        }
    }

    void Start(Socket client)
    {
        client.NoDelay = true;
        var connection = new Connection(server, client);
        var task = connection.RunAsync(stopping.Token);
        connections[connection] = task;
        // Drop finished loops so the table only holds live clients.
        _ = task.ContinueWith(static (_, state) =>
        {
            var (table, c) = ((ConcurrentDictionary<Connection, Task>, Connection))state!;
            table.TryRemove(c, out var _);
        }, (connections, connection), TaskScheduler.Default);
    }

    async Task CloseAllAsync()
    {
        stopping.Cancel();
        foreach (var listener in listeners) listener.Dispose();
        // Cancelling `stopping` aborts every client's pending read; give them a moment to Disconnect.
        try
        {
            await Task.WhenAll(connections.Values).WaitAsync(TimeSpan.FromSeconds(3));
        }
        catch (TimeoutException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (loop is not null)
        {
            stopping.Cancel();
            loop.Stop();
            await looping;
            server.UseRoundBell(null!);
            loop.Dispose();
        }
        await CloseAllAsync();
        if (roundEnd is not null)
        {
            server.UseRoundBell(null!);
            roundEnd.Dispose();
        }
        stopping.Dispose();
    }

    static IEnumerable<IPAddress> Resolve(string name) => name switch
    {
        "*" => [IPAddress.Any],
        "::*" => [IPAddress.IPv6Any],
        _ when IPAddress.TryParse(name, out var address) => [address],
        _ => Dns.GetHostAddresses(name),
    };

    static Socket Bind(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // An IPv6 wildcard must not also claim IPv4, or `bind * ::*` would collide with itself.
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
            AllowRestartWhileTimeWait(socket);
            socket.Bind(endPoint);
            socket.Listen(511);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sets plain SO_REUSEADDR so a restart can bind while old connections sit in TIME_WAIT. .NET's
    /// ReuseAddress option also sets SO_REUSEPORT on Unix, which would let two servers share a port
    /// silently instead of failing with "Address already in use".
    /// </summary>
    static void AllowRestartWhileTimeWait(Socket socket)
    {
        if (OperatingSystem.IsLinux())
            socket.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
            socket.SetRawSocketOption(0xffff /* SOL_SOCKET */, 4 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
    }
}
