// The Linux host: one thread, one epoll set, level-triggered, in the shape of Redis's event loop.
//
//   wait for events → per readable client: one recv, frame its complete commands, execute them as ONE batch
//   → the round's end: the engine writes (under `always` also syncs) everything the round appended, once
//   → the replies of the batches that waited for that go out → wait again
//
// .NET's own socket engine tries a recv before it waits for readiness, so every request costs it a second
// recv that finds nothing (EAGAIN). Here a client is read only when epoll says it has bytes, as in Redis:
// one recv and one send per request. A batch that need not wait (reads, or `everysec` with nothing new to
// write) is answered at once; one that must wait for the round's write is answered after it.
//
// Each client is in one of four states: Reading (idle or framing), Durable (its batch waits for the
// round's write), Blocked (BLPOP and the like, until the engine wakes it) and Sending (the socket took
// only part of the replies; the rest goes when it is writable). Bytes that arrive in the other states are
// kept and framed when the client is Reading again; past 1 MB of them the loop stops reading that client.
// Other threads (a blocked client's timeout, CLIENT KILL from the timer, a ring from the timer's writes)
// never touch a client: they post it to the loop and wake it through an eventfd.

using System.Buffers;
using System.Collections.Concurrent;
using System.Net.Sockets;
using Aof.Core;
using Aof.Engine;

namespace Aof.Server;

sealed class EventLoop : IDisposable
{
    static readonly byte[] MaxClientsReached = "-ERR max number of clients reached\r\n"u8.ToArray();
    const int ReadSize = 16 * 1024;
    const int HoldAtMost = 1024 * 1024;
    // How many more times a round that must commit looks for clients that became ready while it ran.
    const int ExtraPolls = 8;

    enum State { Reading, Durable, Blocked, Sending }

    sealed class Client(Socket socket, int fd, Session session)
    {
        public readonly Socket Socket = socket;
        public readonly int Fd = fd;
        public readonly Session Session = session;
        public readonly ReplyBuffer Output = new();
        public byte[] Input = ArrayPool<byte>.Shared.Rent(ReadSize);
        public int Start, End;
        public State State;
        public ValueTask Pending;
        public bool Watching; // a continuation on Pending will post this client once it completes
        public bool Eof;
        public bool Closed;
        public int Interest;
        public CancellationTokenRegistration OnKilled;
        // Made once, so waking a client from another thread allocates nothing per wake.
        public Action PostSelf = null!;
    }

    readonly Aof.Engine.Server server;
    readonly Dictionary<int, Socket> listeners;
    readonly int epoll;
    readonly int wakeFd;
    readonly int[] events = Epoll.Events(256);
    readonly long[] one = [1];
    readonly long[] scratch = new long[1];
    Client?[] byFd = new Client?[1024];
    readonly List<byte[][]> batch = [];
    List<Client> waiting = [];
    List<Client> waitingSpare = [];
    readonly ConcurrentQueue<Client> posted = new();
    int wakeSent;
    int roundAsked;
    int loopThread;
    volatile bool stopping;

    public EventLoop(Aof.Engine.Server server, List<Socket> listeners)
    {
        this.server = server;
        this.listeners = listeners.ToDictionary(l => (int)l.Handle);
        epoll = Epoll.Create();
        wakeFd = Epoll.CreateEventFd();
        Epoll.Add(epoll, wakeFd, Epoll.In);
        foreach (var listener in listeners)
        {
            listener.Blocking = false;
            Epoll.Add(epoll, (int)listener.Handle, Epoll.In);
        }
    }

    /// <summary>The engine's round bell: the loop ends its round with RoundEnded (woken if rung from elsewhere).</summary>
    public void RingRound()
    {
        Volatile.Write(ref roundAsked, 1);
        if (Environment.CurrentManagedThreadId != loopThread) Wake();
    }

    /// <summary>Asks the loop to stop; it closes every client on its way out.</summary>
    public void Stop()
    {
        stopping = true;
        Wake();
    }

    /// <summary>Serves until <see cref="Stop"/>, on the calling thread.</summary>
    public void Run()
    {
        loopThread = Environment.CurrentManagedThreadId;
        var timeout = -1;
        while (!stopping)
        {
            Handle(Epoll.Wait(epoll, events, timeout));
            // A round that ends in a commit first takes in what arrived while it ran: one write (and
            // under `always` one sync) then covers more batches.
            for (var more = 0; more < ExtraPolls && Volatile.Read(ref roundAsked) != 0 && !stopping; more++)
            {
                var n = Epoll.Wait(epoll, events, 0);
                if (n == 0) break;
                Handle(n);
            }
            EndRound();
            // Batches run while ending the round may have appended: they need a round of their own at once.
            timeout = Volatile.Read(ref roundAsked) != 0 || !posted.IsEmpty ? 0 : -1;
        }
        foreach (var client in byFd)
            if (client is not null) Close(client);
    }

    void Handle(int n)
    {
        for (var i = 0; i < n && !stopping; i++)
        {
            var fd = Epoll.Descriptor(events, i);
            var flags = Epoll.Flags(events, i);
            if (fd == wakeFd)
            {
                Epoll.Drain(wakeFd, scratch);
                Volatile.Write(ref wakeSent, 0);
            }
            else if (listeners.TryGetValue(fd, out var listener)) Accept(listener);
            else if (fd < byFd.Length && byFd[fd] is { } client)
            {
                try
                {
                    OnEvent(client, flags);
                }
                catch (Exception e)
                {
                    Failed(client, e);
                }
            }
        }
    }

    void Post(Client client)
    {
        posted.Enqueue(client);
        if (Environment.CurrentManagedThreadId != loopThread) Wake();
    }

    void Wake()
    {
        if (Interlocked.Exchange(ref wakeSent, 1) == 0) Epoll.Signal(wakeFd, one);
    }

    /// <summary>What Redis does before it sleeps: commit the round, then answer whoever that releases.</summary>
    void EndRound()
    {
        while (posted.TryDequeue(out var client)) OnPosted(client);
        if (Interlocked.Exchange(ref roundAsked, 0) != 0) server.RoundEnded();
        if (waiting.Count == 0) return;
        // Batches answered here may run more batches that wait again: those go to the fresh list.
        (waiting, waitingSpare) = (waitingSpare, waiting);
        foreach (var client in waitingSpare)
        {
            if (client.Closed || client.State != State.Durable) continue;
            if (client.Pending.IsCompleted) Finish(client);
            else
            {
                // Appended by another thread after the write: released by a later write, which may not be ours.
                waiting.Add(client);
                if (!client.Watching)
                {
                    client.Watching = true;
                    client.Pending.GetAwaiter().UnsafeOnCompleted(client.PostSelf);
                }
            }
        }
        waitingSpare.Clear();
    }

    void OnPosted(Client client)
    {
        if (client.Closed) return;
        if (client.Session.Killed.IsCancellationRequested) { Close(client); return; }
        switch (client.State)
        {
            case State.Durable when client.Pending.IsCompleted:
                waiting.Remove(client);
                Finish(client);
                break;
            case State.Blocked when client.Session.Blocked is not { Woken.IsCompleted: false }:
                ValueTask done;
                try
                {
                    done = server.Resume(client.Session, client.Output);
                }
                catch (Exception e)
                {
                    Failed(client, e);
                    return;
                }
                Settled(client, done);
                break;
        }
    }

    void Accept(Socket listener)
    {
        Socket socket;
        try
        {
            socket = listener.Accept();
        }
        catch (SocketException)
        {
            return; // nothing waiting after all, or an aborted handshake
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        Microsoft.FSharp.Core.FSharpValueOption<Session> connected;
        try
        {
            socket.NoDelay = true;
            socket.Blocking = false;
            connected = server.Connect(socket.RemoteEndPoint?.ToString() ?? "", socket.LocalEndPoint?.ToString() ?? "");
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"Refusing a client after an unexpected error: {e}");
            Shut(socket);
            return;
        }
        if (connected.IsNone)
        {
            socket.Send(MaxClientsReached, SocketFlags.None, out _);
            Shut(socket);
            return;
        }
        var fd = (int)socket.Handle;
        if (fd >= byFd.Length) Array.Resize(ref byFd, Math.Max(fd + 1, byFd.Length * 2));
        var client = new Client(socket, fd, connected.Value) { Interest = Epoll.In };
        client.PostSelf = () => Post(client);
        byFd[fd] = client;
        try
        {
            Epoll.Add(epoll, fd, Epoll.In);
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"Refusing client {client.Session.Id}: {e.Message}");
            byFd[fd] = null;
            client.Closed = true;
            Shut(socket);
            server.Disconnect(client.Session);
            return;
        }
        client.OnKilled = client.Session.Killed.UnsafeRegister(static state => ((Action)state!)(), client.PostSelf);
    }

    void OnEvent(Client client, int flags)
    {
        if ((flags & (Epoll.In | Epoll.Hup | Epoll.Err)) != 0) Read(client);
        if (!client.Closed && (flags & Epoll.Out) != 0 && client.State == State.Sending && Send(client) && Settle(client)) Process(client);
    }

    void Read(Client client)
    {
        if (client.Eof) return;
        if (client.End == client.Input.Length)
        {
            if (client.Start > 0)
            {
                client.Input.AsSpan(client.Start, client.End - client.Start).CopyTo(client.Input);
                client.End -= client.Start;
                client.Start = 0;
            }
            else
            {
                var bigger = ArrayPool<byte>.Shared.Rent(client.Input.Length * 2);
                client.Input.AsSpan(0, client.End).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(client.Input);
                client.Input = bigger;
            }
        }
        var n = client.Socket.Receive(client.Input.AsSpan(client.End), SocketFlags.None, out var error);
        if (error == SocketError.WouldBlock) return;
        if (error != SocketError.Success) { Close(client); return; }
        if (n == 0)
        {
            // The client sent its last bytes: answer what it asked (if it still waits), then close.
            client.Eof = true;
            if (client.State == State.Blocked) { Close(client); return; }
            Watch(client);
            if (client.State == State.Reading) Process(client);
            return;
        }
        client.End += n;
        if (client.State == State.Reading) Process(client);
        else Watch(client);
    }

    /// <summary>Frames and runs the client's buffered commands while it is Reading.</summary>
    void Process(Client client)
    {
        while (!client.Closed && client.State == State.Reading && client.Start < client.End)
        {
            var session = client.Session;
            var input = client.Input.AsSpan(client.Start, client.End - client.Start);
            var status = Framing.Frame(input, server.Limits(session), batch, out var consumed, out var error);
            client.Start += consumed;
            if (client.Start == client.End) client.Start = client.End = 0;
            if (batch.Count == 0 && status != ReadStatus.ProtocolError)
            {
                // `client-query-buffer-limit`: a client that keeps sending an unfinishable command is dropped.
                if (client.End - client.Start > server.Settings.ClientQueryBufferLimit) Close(client);
                break;
            }
            ValueTask done;
            try
            {
                done = batch.Count > 0 ? server.Execute(session, batch, client.Output) : ValueTask.CompletedTask;
                if (status == ReadStatus.ProtocolError) server.ProtocolError(session, error ?? "Protocol error", client.Output);
            }
            catch (Exception e)
            {
                batch.Clear();
                Failed(client, e);
                return;
            }
            batch.Clear();
            Settled(client, done);
        }
        if (client.Closed) return;
        if (client.Eof && client.State == State.Reading) Close(client);
        else if (client.Start == client.End && client.Input.Length > 4 * ReadSize)
        {
            // A huge command has gone through: the client does not keep its buffer.
            ArrayPool<byte>.Shared.Return(client.Input);
            client.Input = ArrayPool<byte>.Shared.Rent(ReadSize);
            client.Start = client.End = 0;
        }
    }

    /// <summary>A batch ran: its replies go now, or after the round's write when it must wait for that.</summary>
    void Settled(Client client, ValueTask done)
    {
        if (done.IsCompleted) Finish(client, done);
        else
        {
            client.State = State.Durable;
            client.Pending = done;
            waiting.Add(client);
        }
    }

    void Finish(Client client) => Finish(client, client.Pending);

    void Finish(Client client, ValueTask done)
    {
        // The engine's waiters are reused: each is watched once and read once.
        client.Pending = default;
        client.Watching = false;
        try
        {
            done.GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            Failed(client, e);
            return;
        }
        // A server that is stopping answers no one, as Redis exits inside SHUTDOWN without replying.
        if (stopping)
        {
            Close(client);
            return;
        }
        if (!Send(client))
        {
            client.State = State.Sending;
            Watch(client);
            return;
        }
        if (Settle(client)) Process(client);
    }

    /// <summary>Sends what the socket takes now; false when some is left for when it is writable.</summary>
    bool Send(Client client)
    {
        var output = client.Output;
        while (!output.IsEmpty)
        {
            var n = client.Socket.Send(output.Unsent, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock) return false;
            if (error != SocketError.Success) { Close(client); return false; }
            output.Sent(n);
        }
        return !client.Closed;
    }

    /// <summary>Everything is sent: the client closes, blocks or reads on. True when it is Reading again.</summary>
    bool Settle(Client client)
    {
        var session = client.Session;
        if (session.IsClosing || session.Killed.IsCancellationRequested) { Close(client); return false; }
        if (session.Blocked is { } blocked)
        {
            client.State = State.Blocked;
            Watch(client);
            if (blocked.Woken.IsCompleted) Post(client);
            else blocked.Woken.GetAwaiter().UnsafeOnCompleted(client.PostSelf);
            return false;
        }
        client.State = State.Reading;
        Watch(client);
        return true;
    }

    /// <summary>Keeps epoll's interest in step with the state: readable unless it holds too much, writable while Sending.</summary>
    void Watch(Client client)
    {
        if (client.Closed) return;
        var holding = client.End - client.Start;
        var interest = (client.Eof || (client.State != State.Reading && holding >= HoldAtMost) ? 0 : Epoll.In)
                       | (client.State == State.Sending ? Epoll.Out : 0);
        if (interest == client.Interest) return;
        client.Interest = interest;
        Epoll.Modify(epoll, client.Fd, interest);
    }

    void Failed(Client client, Exception e)
    {
        // An engine bug must not take the process down, but it must be visible.
        Console.Error.WriteLine($"Closing client {client.Session.Id} after an unexpected error: {e}");
        Close(client);
    }

    void Close(Client client)
    {
        if (client.Closed) return;
        client.Closed = true;
        byFd[client.Fd] = null;
        Epoll.Remove(epoll, client.Fd);
        client.OnKilled.Dispose();
        Shut(client.Socket);
        ArrayPool<byte>.Shared.Return(client.Input);
        client.Input = [];
        server.Disconnect(client.Session);
    }

    static void Shut(Socket socket)
    {
        // FIN after the last reply rather than a reset, so a client reading QUIT's +OK gets it.
        try { socket.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        socket.Dispose();
    }

    public void Dispose()
    {
        Epoll.Close(wakeFd);
        Epoll.Close(epoll);
    }
}
