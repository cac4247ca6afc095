namespace Aof.Server.Tests;

/// <summary>What the integration tests run against, chosen by env <c>AOF_TEST_TARGET</c>.</summary>
public enum Target
{
    /// <summary>Default: our engine and host in this test process (fast, debuggable).</summary>
    InProcess,
    /// <summary><c>AOF_TEST_TARGET=process</c>: our compiled Aof.Server.dll as a child process.</summary>
    Process,
    /// <summary><c>AOF_TEST_TARGET=redis</c>: a real redis-server, to prove the tests specify Redis's behaviour.</summary>
    Redis,
}

/// <summary>A running server on an ephemeral port, whichever <see cref="Target"/> is selected.</summary>
public sealed class TestServer : IAsyncDisposable
{
    public static Target Target { get; } = (Environment.GetEnvironmentVariable("AOF_TEST_TARGET") ?? "").ToLowerInvariant() switch
    {
        "" or "inprocess" or "inproc" => Target.InProcess,
        "process" => Target.Process,
        "redis" => Target.Redis,
        var other => throw new InvalidOperationException($"AOF_TEST_TARGET={other}: use inproc, process or redis"),
    };

    public int Port { get; }
    public string Dir { get; }

    // In-process target.
    readonly Aof.Engine.Server? engine;
    readonly Host? host;
    readonly CancellationTokenSource? stop;
    readonly Task? serving;

    // Process targets.
    readonly ServerProcess? process;

    TestServer(int port, string dir, Aof.Engine.Server engine, Host host)
    {
        Port = port;
        Dir = dir;
        this.engine = engine;
        this.host = host;
        stop = new CancellationTokenSource();
        serving = host.RunAsync(stop.Token);
    }

    TestServer(int port, string dir, ServerProcess process)
    {
        Port = port;
        Dir = dir;
        this.process = process;
    }

    /// <summary>The arguments every target starts with; <paramref name="extra"/> follow them.</summary>
    public static List<string> Arguments(int port, string dir, bool realRedis, params string[] extra)
    {
        List<string> args = ["--port", port.ToString(), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "no"];
        // No RDB snapshots from real Redis while tests run (ours takes the directives it knows).
        if (realRedis) args.AddRange(["--save", ""]);
        args.AddRange(extra);
        return args;
    }

    /// <summary>Starts a fresh server of the selected target; <paramref name="extra"/> are more `--directive value` pairs.</summary>
    public static Task<TestServer> StartAsync(params string[] extra) => StartAsync(portable: false, extra);

    /// <summary>
    /// As <see cref="StartAsync(string[])"/>, but in-process it is served by .NET's sockets (the host of
    /// platforms without epoll) instead of the epoll loop.
    /// </summary>
    public static Task<TestServer> StartPortableAsync(params string[] extra) => StartAsync(portable: true, extra);

    static async Task<TestServer> StartAsync(bool portable, string[] extra)
    {
        var dir = Tools.TempDir();
        var port = Tools.FreePort();
        if (Target == Target.InProcess)
        {
            var started = Aof.Engine.Server.Start([.. Arguments(port, dir, realRedis: false, extra)]);
            if (started.IsError) throw new InvalidOperationException($"Server.Start failed: {started.ErrorValue.Item1}");
            var engine = started.ResultValue;
            var host = portable ? Host.ListenPortable(engine) : Host.Listen(engine);
            engine.Ready();
            // Connect where the host really listens: the engine decides the port from the arguments.
            return new TestServer(host.EndPoints[0].Port, dir, engine, host);
        }
        var process = ServerProcess.Start(Arguments(port, dir, Target == Target.Redis, extra), realRedis: Target == Target.Redis);
        try
        {
            await process.WaitUntilServingAsync(port, TimeSpan.FromSeconds(30));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
        return new TestServer(port, dir, process);
    }

    public Task<TestClient> ConnectAsync() => TestClient.ConnectAsync(Port);

    /// <summary>The AOF loads after the server listens (-LOADING until then): waits for its end.</summary>
    public async Task WaitUntilLoadedAsync()
    {
        await using var probe = await ConnectAsync();
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (await probe.CallAsync("PING") is not Reply.Status { Text: "PONG" })
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "the server never finished loading");
            await Task.Delay(20);
        }
    }

    /// <summary>Stops an in-process server the way SIGTERM would (RequestShutdown), leaving clients to see the close.</summary>
    public async Task ShutdownInProcessAsync()
    {
        if (engine is null || serving is null) throw new InvalidOperationException("only the in-process target can be shut down from here");
        engine.RequestShutdown();
        stop!.Cancel();
        await serving.WaitAsync(TimeSpan.FromSeconds(10));
    }

    public async ValueTask DisposeAsync()
    {
        if (host is not null)
        {
            stop!.Cancel();
            try { await serving!.WaitAsync(TimeSpan.FromSeconds(10)); } catch (TimeoutException) { }
            await host.DisposeAsync();
            engine!.Stop();
            stop.Dispose();
        }
        if (process is not null) await process.DisposeAsync();
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>One server shared by the tests of a class (they use distinct keys).</summary>
public abstract class SharedServer : IAsyncLifetime
{
    TestServer? server;

    public TestServer Server => server ?? throw new InvalidOperationException("fixture not started");

    protected abstract Task<TestServer> StartAsync();

    public async Task InitializeAsync() => server = await StartAsync();

    public async Task DisposeAsync()
    {
        if (server is not null) await server.DisposeAsync();
    }
}

/// <summary>A shared server of the selected target.</summary>
public sealed class ServerFixture : SharedServer
{
    protected override Task<TestServer> StartAsync() => TestServer.StartAsync();
}

/// <summary>As <see cref="ServerFixture"/>, served in-process by .NET's sockets instead of the epoll loop.</summary>
public sealed class PortableServerFixture : SharedServer
{
    protected override Task<TestServer> StartAsync() => TestServer.StartPortableAsync();
}
