using System.Text;

namespace Aof.Server.Tests;

/// <summary>
/// Redis behaviour seen through a socket. They pass against real Redis too (AOF_TEST_TARGET=redis), which
/// is how their expectations are known to be Redis's.
/// Tests share one server, so each uses keys of its own.
/// </summary>
public sealed class CommandTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    TestServer Server => fixture.Server;

    static string Key(string name) => $"{name}:{Guid.NewGuid():N}";

    /// <summary>Polls until <paramref name="condition"/> holds, failing after a bound instead of sleeping blindly.</summary>
    static async Task Eventually(Func<Task<bool>> condition, TimeSpan within, string what)
    {
        var deadline = DateTime.UtcNow + within;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"not true within {within}: {what}");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task PingAndEcho()
    {
        await using var c = await Server.ConnectAsync();
        Assert.Equal("PONG", await c.StatusAsync("PING"));
        Assert.Equal("hello", await c.BulkAsync("PING", "hello"));
        Assert.Equal("hello world", await c.BulkAsync("ECHO", "hello world"));
    }

    [Fact]
    public async Task SetGetDelExists()
    {
        await using var c = await Server.ConnectAsync();
        var (a, b) = (Key("a"), Key("b"));
        Assert.Null(await c.BulkAsync("GET", a));
        Assert.Equal("OK", await c.StatusAsync("SET", a, "1"));
        Assert.Equal("1", await c.BulkAsync("GET", a));
        Assert.Equal("OK", await c.StatusAsync("SET", b, "2"));
        Assert.Equal(2, await c.IntAsync("EXISTS", a, b));
        Assert.Equal(3, await c.IntAsync("EXISTS", a, b, a)); // counts repeats, like Redis
        Assert.Equal(2, await c.IntAsync("DEL", a, b, Key("missing")));
        Assert.Equal(0, await c.IntAsync("EXISTS", a));
        Assert.Null(await c.BulkAsync("GET", b));
    }

    [Fact]
    public async Task ValuesAreBinarySafeAndLarge()
    {
        await using var c = await Server.ConnectAsync();
        var key = Encoding.UTF8.GetBytes(Key("bin"));
        var value = new byte[1 << 20];
        new Random(42).NextBytes(value);
        value[0] = (byte)'\r';
        value[1] = (byte)'\n';
        value[2] = 0;
        Assert.Equal(new Reply.Status("OK"), await c.CallAsync("SET"u8.ToArray(), key, value));
        var got = Assert.IsType<Reply.Bulk>(await c.CallAsync("GET"u8.ToArray(), key));
        Assert.Equal(value, got.Bytes);
    }

    [Fact]
    public async Task IncrCountsAndRejectsNonIntegers()
    {
        await using var c = await Server.ConnectAsync();
        var (n, s) = (Key("n"), Key("s"));
        Assert.Equal(1, await c.IntAsync("INCR", n));
        Assert.Equal(2, await c.IntAsync("INCR", n));
        Assert.Equal(12, await c.IntAsync("INCRBY", n, "10"));
        Assert.Equal(11, await c.IntAsync("DECR", n));
        Assert.Equal("11", await c.BulkAsync("GET", n));
        await c.StatusAsync("SET", s, "abc");
        Assert.Equal("ERR value is not an integer or out of range", await c.ErrorAsync("INCR", s));
    }

    [Fact]
    public async Task MsetAndMget()
    {
        await using var c = await Server.ConnectAsync();
        var (a, b) = (Key("a"), Key("b"));
        Assert.Equal("OK", await c.StatusAsync("MSET", a, "x", b, "y"));
        var items = await c.ArrayAsync("MGET", a, Key("missing"), b);
        Assert.Equal([new Reply.Bulk("x"u8.ToArray()), new Reply.Bulk(null), new Reply.Bulk("y"u8.ToArray())], items!, ReplyComparer.Instance);
    }

    [Fact]
    public async Task KeyWithPxExpiresAndDisappears()
    {
        await using var c = await Server.ConnectAsync();
        var k = Key("ttl");
        Assert.Equal("OK", await c.StatusAsync("SET", k, "v", "PX", "100"));
        var pttl = await c.IntAsync("PTTL", k);
        Assert.InRange(pttl, 1, 100);
        await Eventually(async () => await c.BulkAsync("GET", k) is null, TimeSpan.FromSeconds(5), "key expired");
        Assert.Equal(0, await c.IntAsync("EXISTS", k));
        Assert.Equal(-2, await c.IntAsync("PTTL", k));
        // A key without expiry reports -1.
        await c.StatusAsync("SET", k, "v");
        Assert.Equal(-1, await c.IntAsync("TTL", k));
    }

    [Fact]
    public async Task SelectIsolatesDatabases()
    {
        await using var one = await Server.ConnectAsync();
        await using var zero = await Server.ConnectAsync();
        var k = Key("db");
        Assert.Equal("OK", await one.StatusAsync("SELECT", "1"));
        await one.StatusAsync("SET", k, "in-1");
        Assert.Null(await zero.BulkAsync("GET", k));
        await zero.StatusAsync("SET", k, "in-0");
        Assert.Equal("in-1", await one.BulkAsync("GET", k));
        await zero.StatusAsync("SELECT", "1");
        Assert.Equal("in-1", await zero.BulkAsync("GET", k));
        Assert.Equal("ERR DB index is out of range", await zero.ErrorAsync("SELECT", "99999"));
    }

    [Fact]
    public async Task MultiExecRunsQueuedCommandsInOrder()
    {
        await using var c = await Server.ConnectAsync();
        var (k, n) = (Key("k"), Key("n"));
        Assert.Equal("OK", await c.StatusAsync("MULTI"));
        Assert.Equal("QUEUED", await c.StatusAsync("SET", k, "v"));
        Assert.Equal("QUEUED", await c.StatusAsync("INCR", n));
        Assert.Equal("QUEUED", await c.StatusAsync("GET", k));
        var results = await c.ArrayAsync("EXEC");
        Assert.Equal(3, results!.Length);
        Assert.Equal(new Reply.Status("OK"), results[0]);
        Assert.Equal(new Reply.Integer(1), results[1]);
        Assert.Equal("v", Assert.IsType<Reply.Bulk>(results[2]).Text);
    }

    [Fact]
    public async Task DiscardDropsTheQueue()
    {
        await using var c = await Server.ConnectAsync();
        var k = Key("k");
        await c.StatusAsync("MULTI");
        await c.StatusAsync("SET", k, "v");
        Assert.Equal("OK", await c.StatusAsync("DISCARD"));
        Assert.Null(await c.BulkAsync("GET", k));
        Assert.Equal("ERR DISCARD without MULTI", await c.ErrorAsync("DISCARD"));
        Assert.Equal("ERR EXEC without MULTI", await c.ErrorAsync("EXEC"));
    }

    [Fact]
    public async Task MultiErrors()
    {
        await using var c = await Server.ConnectAsync();
        await c.StatusAsync("MULTI");
        Assert.Equal("ERR MULTI calls can not be nested", await c.ErrorAsync("MULTI"));
        Assert.StartsWith("ERR unknown command 'foo'", await c.ErrorAsync("foo"));
        Assert.Equal("EXECABORT Transaction discarded because of previous errors.", await c.ErrorAsync("EXEC"));
        // Still usable, no longer in MULTI.
        Assert.Equal("PONG", await c.StatusAsync("PING"));
    }

    [Fact]
    public async Task WatchAbortsExecWhenAnotherClientChangesTheKey()
    {
        await using var watcher = await Server.ConnectAsync();
        await using var other = await Server.ConnectAsync();
        var k = Key("w");
        await watcher.StatusAsync("SET", k, "start");
        Assert.Equal("OK", await watcher.StatusAsync("WATCH", k));
        await other.StatusAsync("SET", k, "theirs");
        await watcher.StatusAsync("MULTI");
        await watcher.StatusAsync("SET", k, "mine");
        Assert.Equal(new Reply.Array(null), await watcher.CallAsync("EXEC"), ReplyComparer.Instance);
        Assert.Equal("theirs", await watcher.BulkAsync("GET", k));

        // Untouched watched keys let EXEC through.
        await watcher.StatusAsync("WATCH", k);
        await watcher.StatusAsync("MULTI");
        await watcher.StatusAsync("SET", k, "mine");
        Assert.Single((await watcher.ArrayAsync("EXEC"))!);
        Assert.Equal("mine", await other.BulkAsync("GET", k));
    }

    [Fact]
    public async Task ThousandPipelinedCommandsGetThousandOrderedReplies()
    {
        await using var c = await Server.ConnectAsync();
        var bytes = Enumerable.Range(0, 1000).SelectMany(i => TestClient.Encode("ECHO", $"m{i}")).ToArray();
        await c.SendRawAsync(bytes);
        for (var i = 0; i < 1000; i++)
            Assert.Equal($"m{i}", Assert.IsType<Reply.Bulk>(await c.ReadAsync()).Text);
    }

    [Fact]
    public async Task ManyConcurrentClientsSeeOneConsistentDataset()
    {
        var counter = Key("counter");
        var clients = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => Server.ConnectAsync()));
        try
        {
            await Task.WhenAll(clients.Select(async (c, id) =>
            {
                var own = $"{counter}:{id}";
                for (var i = 0; i < 50; i++)
                {
                    await c.IntAsync("INCR", counter);
                    await c.StatusAsync("SET", own, i.ToString());
                    Assert.Equal(i.ToString(), await c.BulkAsync("GET", own));
                }
            }));
            Assert.Equal("2000", await clients[0].BulkAsync("GET", counter));
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task ProtocolErrorClosesOnlyThatClient()
    {
        await using var bystander = await Server.ConnectAsync();
        await using var bad = await Server.ConnectAsync();
        await bad.SendRawAsync("*1\r\n$x\r\n");
        Assert.Equal(new Reply.Error("ERR Protocol error: invalid bulk length"), await bad.ReadAsync());
        Assert.True(await bad.IsClosedByServerAsync(), "connection left open after a protocol error");
        Assert.Equal("PONG", await bystander.StatusAsync("PING"));
    }

    [Fact]
    public async Task CommandsBeforeAProtocolErrorInTheSameWriteAreAnswered()
    {
        await using var c = await Server.ConnectAsync();
        await c.SendRawAsync([.. TestClient.Encode("ECHO", "first"), .. "*1\r\n$x\r\n"u8.ToArray()]);
        Assert.Equal("first", Assert.IsType<Reply.Bulk>(await c.ReadAsync()).Text);
        Assert.Equal(new Reply.Error("ERR Protocol error: invalid bulk length"), await c.ReadAsync());
        Assert.True(await c.IsClosedByServerAsync());
    }

    [Fact]
    public async Task UnknownCommandErrorNamesItAndItsArguments()
    {
        await using var c = await Server.ConnectAsync();
        Assert.Equal("ERR unknown command 'foo', with args beginning with: 'bar' ", await c.ErrorAsync("foo", "bar"));
        Assert.Equal("ERR unknown command 'foo', with args beginning with: ", await c.ErrorAsync("foo"));
    }

    [Fact]
    public async Task WrongArityIsReported()
    {
        await using var c = await Server.ConnectAsync();
        Assert.Equal("ERR wrong number of arguments for 'get' command", await c.ErrorAsync("GET"));
        Assert.Equal("ERR wrong number of arguments for 'set' command", await c.ErrorAsync("SET", "k"));
    }

    [Fact]
    public async Task RequirepassDemandsAuth()
    {
        await using var server = await TestServer.StartAsync("--requirepass", "s3cret");
        await using var c = await server.ConnectAsync();
        Assert.Equal("NOAUTH Authentication required.", await c.ErrorAsync("GET", "k"));
        Assert.Equal("WRONGPASS invalid username-password pair or user is disabled.", await c.ErrorAsync("AUTH", "nope"));
        Assert.Equal("OK", await c.StatusAsync("AUTH", "s3cret"));
        Assert.Null(await c.BulkAsync("GET", "k"));
        // Authentication belongs to the connection, not the server.
        await using var other = await server.ConnectAsync();
        Assert.Equal("NOAUTH Authentication required.", await other.ErrorAsync("SET", "k", "v"));
    }

    [Fact]
    public async Task AuthWithoutRequirepassIsAnError()
    {
        await using var c = await Server.ConnectAsync();
        Assert.StartsWith("ERR AUTH <password> called without any password configured", await c.ErrorAsync("AUTH", "x"));
    }

    [Fact]
    public async Task ClientSetnameGetnameAndId()
    {
        await using var c = await Server.ConnectAsync();
        await using var d = await Server.ConnectAsync();
        var id = await c.IntAsync("CLIENT", "ID");
        Assert.True(id > 0);
        Assert.NotEqual(id, await d.IntAsync("CLIENT", "ID"));
        Assert.Null(await c.BulkAsync("CLIENT", "GETNAME"));
        Assert.Equal("OK", await c.StatusAsync("CLIENT", "SETNAME", "worker-1"));
        Assert.Equal("worker-1", await c.BulkAsync("CLIENT", "GETNAME"));
        Assert.Null(await d.BulkAsync("CLIENT", "GETNAME"));
        Assert.Equal("ERR Client names cannot contain spaces, newlines or special characters.",
            await c.ErrorAsync("CLIENT", "SETNAME", "has space"));
    }

    [Fact]
    public async Task QuitRepliesOkThenCloses()
    {
        await using var c = await Server.ConnectAsync();
        Assert.Equal("OK", await c.StatusAsync("QUIT"));
        Assert.True(await c.IsClosedByServerAsync(), "connection left open after QUIT");
    }

    [Fact]
    public async Task InlineCommandsWork()
    {
        await using var c = await Server.ConnectAsync();
        var k = Key("inline");
        await c.SendRawAsync($"PING\r\nSET {k} hello\r\nGET {k}\r\n");
        Assert.Equal(new Reply.Status("PONG"), await c.ReadAsync());
        Assert.Equal(new Reply.Status("OK"), await c.ReadAsync());
        Assert.Equal("hello", Assert.IsType<Reply.Bulk>(await c.ReadAsync()).Text);
    }

    [Fact]
    public async Task DebugDigestRepliesAreStatusReplies()
    {
        // Its own server: DEBUG must be enabled, and the dataset digest covers every key.
        await using var server = await TestServer.StartAsync("--enable-debug-command", "yes");
        await using var c = await server.ConnectAsync();
        Assert.Equal(new Reply.Status(new string('0', 40)), await c.CallAsync("DEBUG", "DIGEST"));
        Assert.Equal("OK", await c.StatusAsync("SET", "k", "v"));
        var digest = Assert.IsType<Reply.Status>(await c.CallAsync("DEBUG", "DIGEST")).Text;
        Assert.Matches("^[0-9a-f]{40}$", digest);
        var values = await c.ArrayAsync("DEBUG", "DIGEST-VALUE", "k", "missing");
        Assert.Equal(2, values!.Length);
        Assert.Matches("^[0-9a-f]{40}$", Assert.IsType<Reply.Status>(values[0]).Text);
        Assert.Equal(new Reply.Status(new string('0', 40)), values[1]);
    }
}

/// <summary>Structural equality for replies (records compare byte arrays by reference).</summary>
public sealed class ReplyComparer : IEqualityComparer<Reply>
{
    public static readonly ReplyComparer Instance = new();

    public bool Equals(Reply? x, Reply? y) => (x, y) switch
    {
        (Reply.Bulk a, Reply.Bulk b) => a.Bytes is null ? b.Bytes is null : b.Bytes is not null && a.Bytes.AsSpan().SequenceEqual(b.Bytes),
        (Reply.Array a, Reply.Array b) => a.Items is null ? b.Items is null : b.Items is not null && a.Items.SequenceEqual(b.Items, this),
        _ => Equals((object?)x, y),
    };

    public int GetHashCode(Reply obj) => obj.GetType().GetHashCode();
}
