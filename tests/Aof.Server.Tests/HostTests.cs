using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit.Abstractions;

namespace Aof.Server.Tests;

/// <summary>
/// The host's own job — framing, batching, pipelining, sending, closing — mostly checked with PING. Both
/// hosts must pass it: the epoll loop (Linux) and .NET's sockets (other platforms).
/// </summary>
public abstract class HostContract(ITestOutputHelper output)
{
    protected readonly ITestOutputHelper Output = output;

    protected abstract TestServer Server { get; }

    /// <summary>A server of its own, served by the same host as <see cref="Server"/>.</summary>
    protected abstract Task<TestServer> StartAsync(params string[] extra);

    [Fact]
    public async Task PingAnswersPong()
    {
        await using var client = await Server.ConnectAsync();
        Assert.Equal("PONG", await client.StatusAsync("PING"));
    }

    [Fact]
    public async Task InlinePingAnswersPong()
    {
        await using var client = await Server.ConnectAsync();
        await client.SendRawAsync("PING\r\n");
        Assert.Equal(new Reply.Status("PONG"), await client.ReadAsync());
    }

    [Fact]
    public async Task ThousandPipelinedPingsInOneWriteGetThousandReplies()
    {
        await using var client = await Server.ConnectAsync();
        var one = TestClient.Encode("PING");
        await client.SendRawAsync([.. Enumerable.Range(0, 1000).SelectMany(_ => one)]);
        for (var i = 0; i < 1000; i++)
            Assert.Equal(new Reply.Status("PONG"), await client.ReadAsync());
    }

    [Fact]
    public async Task CommandDribbledOneByteAtATimeIsFramedAcrossReads()
    {
        await using var client = await Server.ConnectAsync();
        foreach (var b in TestClient.Encode("PING"))
            await client.SendRawAsync([b]);
        Assert.Equal(new Reply.Status("PONG"), await client.ReadAsync());
        // And the connection is still in step afterwards.
        Assert.Equal("PONG", await client.StatusAsync("PING"));
    }

    [Fact]
    public async Task CommandsSplitAtEveryPossiblePointAreAllAnswered()
    {
        await using var client = await Server.ConnectAsync();
        var two = TestClient.Encode("PING").Concat(Encoding.ASCII.GetBytes("PING\r\n")).ToArray();
        for (var cut = 1; cut < two.Length; cut++)
        {
            await client.SendRawAsync(two[..cut]);
            await Task.Yield();
            await client.SendRawAsync(two[cut..]);
            Assert.Equal(new Reply.Status("PONG"), await client.ReadAsync());
            Assert.Equal(new Reply.Status("PONG"), await client.ReadAsync());
        }
    }

    [Fact]
    public async Task LargeArgumentSpanningManyReadsIsFramedWhole()
    {
        // 300 KB arrives in many socket reads, so the host must join pipe segments without losing bytes.
        await using var client = await Server.ConnectAsync();
        var payload = new byte[300_000];
        new Random(7).NextBytes(payload);
        var reply = await client.CallAsync("PING"u8.ToArray(), payload);
        // The engine stub answers PONG to anything; Redis (and the real engine) echo the argument.
        switch (reply)
        {
            case Reply.Status { Text: "PONG" }:
                Output.WriteLine("engine stub: PONG");
                break;
            case Reply.Bulk bulk:
                Assert.Equal(payload, bulk.Bytes);
                break;
            default:
                Assert.Fail($"unexpected reply {reply}");
                break;
        }
        Assert.Equal("PONG", await client.StatusAsync("PING"));
    }

    [Fact]
    public async Task MixedSizePipelineInRandomChunksKeepsEveryByteAndTheOrder()
    {
        // Small and large commands cut at arbitrary points: partial commands at segment edges must be
        // carried over intact from one read to the next.
        var random = new Random(11);
        var payloads = Enumerable.Range(0, 200)
            .Select(i => { var p = new byte[i % 7 == 0 ? random.Next(20_000, 60_000) : random.Next(0, 300)]; random.NextBytes(p); return p; })
            .ToList();
        var bytes = payloads.SelectMany(p => TestClient.Encode("PING"u8.ToArray(), p)).ToArray();
        await using var client = await Server.ConnectAsync();
        var sending = Task.Run(async () =>
        {
            for (var at = 0; at < bytes.Length;)
            {
                var n = Math.Min(bytes.Length - at, random.Next(1, 40_000));
                await client.SendRawAsync(bytes[at..(at + n)]);
                at += n;
            }
        });
        foreach (var payload in payloads)
        {
            var reply = await client.ReadAsync();
            if (reply is not Reply.Status { Text: "PONG" }) // the engine stub's answer to anything
                Assert.Equal(payload, Assert.IsType<Reply.Bulk>(reply).Bytes);
        }
        await sending;
    }

    [Fact]
    public async Task ManyConcurrentClientsAreAllServed()
    {
        var clients = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Server.ConnectAsync()));
        try
        {
            await Task.WhenAll(clients.Select(async client =>
            {
                for (var i = 0; i < 20; i++) Assert.Equal("PONG", await client.StatusAsync("PING"));
            }));
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task ClientVanishingMidCommandDoesNotDisturbOthers()
    {
        await using (var quitter = await Server.ConnectAsync())
            await quitter.SendRawAsync("*2\r\n$4\r\nPING\r\n$100\r\nonly-part");
        await using var client = await Server.ConnectAsync();
        Assert.Equal("PONG", await client.StatusAsync("PING"));
    }

    [Fact]
    public async Task ReplyLargerThanTheSocketBuffersReachesAClientThatReadsLate()
    {
        // 16 MB cannot fit the kernel's buffers: the host must keep the rest and send it as the client reads,
        // and keep later replies behind it.
        await using var client = await Server.ConnectAsync();
        var value = new byte[16 * 1024 * 1024];
        new Random(3).NextBytes(value);
        var key = "host:big:" + Guid.NewGuid().ToString("N");
        Assert.Equal("OK", await client.StatusAsync("SET", key, "x"));
        Assert.Equal(new Reply.Status("OK"), await client.CallAsync("SET"u8.ToArray(), Encoding.UTF8.GetBytes(key), value));
        await client.SendRawAsync([.. TestClient.Encode("GET", key), .. TestClient.Encode("PING")]);
        Assert.Equal(value, Assert.IsType<Reply.Bulk>(await client.ReadAsync()).Bytes);
        Assert.Equal(new Reply.Status("PONG"), await client.ReadAsync());
        Assert.Equal(1, await client.IntAsync("DEL", key));
    }

    [Fact]
    public async Task ClientThatHalfClosesAfterItsCommandsStillGetsEveryReply()
    {
        await using var client = await Server.ConnectAsync();
        var one = TestClient.Encode("PING");
        await client.SendRawAsync([.. Enumerable.Range(0, 100).SelectMany(_ => one)]);
        client.ShutdownSend();
        for (var i = 0; i < 100; i++)
            Assert.Equal(new Reply.Status("PONG"), await client.ReadAsync());
        Assert.True(await client.IsClosedByServerAsync(), "connection left open after the client's last command");
    }

    [Fact]
    public async Task BlockedClientIsAnsweredByAPushAndByItsTimeout()
    {
        var key = "host:q:" + Guid.NewGuid().ToString("N");
        await using var waiter = await Server.ConnectAsync();
        await using var pusher = await Server.ConnectAsync();
        // Woken by another client's command, then the command pipelined after BLPOP runs.
        await waiter.SendRawAsync([.. TestClient.Encode("BLPOP", key, "0"), .. TestClient.Encode("PING")]);
        await BlockingTests.WaitBlocked(pusher, 1);
        Assert.Equal(1, await pusher.IntAsync("RPUSH", key, "v"));
        Assert.Equal(new Reply.Array([new Reply.Bulk(Encoding.UTF8.GetBytes(key)), new Reply.Bulk("v"u8.ToArray())]), await waiter.ReadAsync(), ReplyComparer.Instance);
        Assert.Equal(new Reply.Status("PONG"), await waiter.ReadAsync());
        // Woken by its timeout, from the timer's thread.
        Assert.Equal(new Reply.Array(null), await waiter.CallAsync("BLPOP", key, "0.05"), ReplyComparer.Instance);
        Assert.Equal("PONG", await waiter.StatusAsync("PING"));
    }

    [Fact]
    public async Task CommandsSentWhileEarlierOnesWaitForTheSyncAreAnsweredInOrder()
    {
        // Each write arrives while the batches before it wait for their round's fdatasync.
        await using var server = await StartAsync("--appendonly", "yes", "--appendfsync", "always");
        await server.WaitUntilLoadedAsync();
        await using var client = await server.ConnectAsync();
        var reading = Task.Run(async () =>
        {
            for (var i = 1; i <= 200; i++)
                Assert.Equal(new Reply.Integer(i), await client.ReadAsync());
        });
        for (var i = 0; i < 200; i++)
            await client.SendAsync("INCR", "counter");
        await reading;
    }

    [Fact]
    public async Task ABlockedClientThatKeepsSendingIsServedInFullOnceWoken()
    {
        // Over a megabyte arrives while the client is blocked: the host holds some, stops reading the rest
        // until the client is answered, then serves all of it in order.
        var key = "host:held:" + Guid.NewGuid().ToString("N");
        await using var waiter = await Server.ConnectAsync();
        await using var pusher = await Server.ConnectAsync();
        await waiter.SendAsync("BLPOP", key, "0");
        await BlockingTests.WaitBlocked(pusher, 1);
        var ping = TestClient.Encode("PING");
        const int pings = 100_000; // 1.4 MB
        var sending = Task.Run(() => waiter.SendRawAsync([.. Enumerable.Range(0, pings).SelectMany(_ => ping)]));
        Assert.Equal(1, await pusher.IntAsync("RPUSH", key, "v"));
        Assert.Equal(new Reply.Array([new Reply.Bulk(Encoding.UTF8.GetBytes(key)), new Reply.Bulk("v"u8.ToArray())]), await waiter.ReadAsync(), ReplyComparer.Instance);
        for (var i = 0; i < pings; i++)
            Assert.Equal(new Reply.Status("PONG"), await waiter.ReadAsync());
        await sending;
    }

    [Fact]
    public async Task ShutdownClosesTheConnectionWithoutAReply()
    {
        // Redis exits inside SHUTDOWN: the client sees the connection close, and no +OK.
        await using var server = await StartAsync();
        await using var client = await server.ConnectAsync();
        Assert.Equal("PONG", await client.StatusAsync("PING"));
        await client.SendAsync("SHUTDOWN", "NOSAVE");
        Assert.True(await client.IsClosedByServerAsync(), "connection left open after SHUTDOWN");
    }

    [Fact]
    public async Task ClientKillClosesTheOtherClientsConnection()
    {
        await using var victim = await Server.ConnectAsync();
        await using var killer = await Server.ConnectAsync();
        var id = await victim.IntAsync("CLIENT", "ID");
        Assert.Equal(1, await killer.IntAsync("CLIENT", "KILL", "ID", id.ToString()));
        Assert.True(await victim.IsClosedByServerAsync(), "killed client left connected");
        Assert.Equal("PONG", await killer.StatusAsync("PING"));
    }

    [Fact]
    public async Task ClientThatKillsItselfGetsTheReplyThenTheClose()
    {
        await using var client = await Server.ConnectAsync();
        var id = await client.IntAsync("CLIENT", "ID");
        Assert.Equal(1, await client.IntAsync("CLIENT", "KILL", "ID", id.ToString(), "SKIPME", "no"));
        Assert.True(await client.IsClosedByServerAsync(), "client left connected after killing itself");
    }

    [Fact]
    public async Task AClientOverMaxclientsIsToldAndClosed()
    {
        await using var server = await StartAsync("--maxclients", "1");
        await using var first = await server.ConnectAsync();
        Assert.Equal("PONG", await first.StatusAsync("PING"));
        await using var second = await server.ConnectAsync();
        Assert.Equal(new Reply.Error("ERR max number of clients reached"), await second.ReadAsync());
        Assert.True(await second.IsClosedByServerAsync(), "refused client left connected");
        Assert.Equal("PONG", await first.StatusAsync("PING"));
    }

    [Fact]
    public async Task AnIdleClientIsClosedAfterTheTimeout()
    {
        await using var server = await StartAsync("--timeout", "1");
        await using var idle = await server.ConnectAsync();
        Assert.Equal("PONG", await idle.StatusAsync("PING"));
        Assert.True(await idle.IsClosedByServerAsync(TimeSpan.FromSeconds(15)), "idle client still connected 15 s after a 1 s timeout");
    }

    [Fact]
    public async Task UnderAppendfsyncAlwaysEveryClientGetsItsRepliesInOrder()
    {
        // Batches wait for the round's sync here, while the same clients keep sending.
        await using var server = await StartAsync("--appendonly", "yes", "--appendfsync", "always");
        await server.WaitUntilLoadedAsync();
        var clients = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => server.ConnectAsync()));
        try
        {
            await Task.WhenAll(clients.Select(async (client, id) =>
            {
                for (var i = 1; i <= 30; i++)
                {
                    await client.SendRawAsync([.. TestClient.Encode("INCR", $"n{id}"), .. TestClient.Encode("INCR", "all")]);
                    Assert.Equal(new Reply.Integer(i), await client.ReadAsync());
                    Assert.IsType<Reply.Integer>(await client.ReadAsync());
                }
            }));
            Assert.Equal("240", await clients[0].BulkAsync("GET", "all"));
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }
}

/// <summary>The host contract on the host this machine gets (the epoll loop on Linux).</summary>
public sealed class HostTests(ServerFixture fixture, ITestOutputHelper output) : HostContract(output), IClassFixture<ServerFixture>
{
    protected override TestServer Server => fixture.Server;

    protected override Task<TestServer> StartAsync(params string[] extra) => TestServer.StartAsync(extra);

    [Fact]
    public void ListeningOnABusyPortFailsWithRedisMessage()
    {
        if (TestServer.Target != Target.InProcess)
        {
            Output.WriteLine("in-process only; ProcessTests check the message printed by the executable");
            return;
        }
        var dir = Tools.TempDir();
        try
        {
            var engine = Aof.Engine.Server.Start([.. TestServer.Arguments(Tools.FreePort(), dir, realRedis: false)]).ResultValue;
            var port = engine.Settings.Port;
            using var blocker = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                blocker.Bind(new IPEndPoint(IPAddress.Loopback, port));
                blocker.Listen();
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                // Already busy (the engine stub always says 6379): just as good for this test.
            }
            var error = Assert.Throws<HostBindException>(() => Host.Listen(engine));
            Assert.Equal(
                $"Warning: Could not create server TCP listening socket 127.0.0.1:{port}: bind: Address already in use\n" +
                $"Failed listening on port {port} (tcp), aborting.",
                error.Message);
            engine.Stop();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>Shuts its own server down, so it has no shared fixture. (The engine stub ignores --port and
/// always takes 6379, so under the stub run this class alone.)</summary>
public sealed class HostShutdownTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ShutdownClosesConnectedClients()
    {
        if (TestServer.Target != Target.InProcess)
        {
            output.WriteLine("in-process only; ProcessTests cover SIGTERM for the other targets");
            return;
        }
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        Assert.Equal("PONG", await client.StatusAsync("PING"));
        await server.ShutdownInProcessAsync();
        Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(5)), "client still connected after shutdown");
    }
}

/// <summary>The host contract on .NET's sockets, the host of platforms without epoll.</summary>
public sealed class PortableHostTests(PortableServerFixture fixture, ITestOutputHelper output) : HostContract(output), IClassFixture<PortableServerFixture>
{
    protected override TestServer Server => fixture.Server;

    protected override Task<TestServer> StartAsync(params string[] extra) => TestServer.StartPortableAsync(extra);
}
