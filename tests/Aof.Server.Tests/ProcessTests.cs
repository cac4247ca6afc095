using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace Aof.Server.Tests;

/// <summary>
/// The compiled executable as an operator runs it: log lines, pidfile, SIGTERM, config file, bind
/// failure. BLOCKED ON THE ENGINE (start-up logging, directives, pidfile). Runs our Aof.Server.dll, or
/// real redis-server when AOF_TEST_TARGET=redis.
/// </summary>
public sealed class ProcessTests(ITestOutputHelper output) : IAsyncLifetime
{
    static readonly bool RealRedis = TestServer.Target == Target.Redis;
    static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    readonly string dir = Tools.TempDir();
    readonly int port = Tools.FreePort();
    readonly List<ServerProcess> started = [];

    ServerProcess Start(params string[] args)
    {
        var process = ServerProcess.Start(args, RealRedis);
        started.Add(process);
        return process;
    }

    ServerProcess StartStandard(params string[] extra) =>
        Start([.. TestServer.Arguments(port, dir, RealRedis, extra)]);

    [Fact]
    public async Task LogsPidThenInitializedThenReady()
    {
        // Redis draws its logo (which carries "PID: n") only on a terminal unless told to; ours always logs it.
        var server = RealRedis ? StartStandard("--always-show-logo", "yes") : StartStandard();
        Assert.True(await server.WaitForLineAsync("Ready to accept connections", StartTimeout), server.Output);
        var lines = server.Lines;
        var pid = lines.ToList().FindIndex(l => l.Contains(" PID: "));
        var initialized = lines.ToList().FindIndex(l => l.Contains("Server initialized"));
        var ready = lines.ToList().FindIndex(l => l.Contains("Ready to accept connections"));
        Assert.True(pid >= 0 && pid < initialized && initialized < ready, server.Output);
        Assert.Contains($"PID: {server.Pid}", lines[pid]);
    }

    [Fact]
    public async Task PidfileIsWrittenAndRemovedOnSigterm()
    {
        var pidfile = Path.Combine(dir, "server.pid");
        var server = StartStandard("--pidfile", pidfile);
        await server.WaitUntilServingAsync(port, StartTimeout);
        Assert.True(File.Exists(pidfile), $"no pidfile\n{server.Output}");
        Assert.Equal(server.Pid.ToString(), File.ReadAllText(pidfile).Trim());
        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(File.Exists(pidfile), "pidfile left behind");
    }

    [Fact]
    public async Task SigtermExitsZeroPromptlyAndClosesClients()
    {
        var server = StartStandard();
        await server.WaitUntilServingAsync(port, StartTimeout);
        await using var client = await TestClient.ConnectAsync(port);
        Assert.Equal("PONG", await client.StatusAsync("PING"));
        server.Signal(ServerProcess.SIGTERM);
        var exit = await server.WaitForExitAsync(TimeSpan.FromSeconds(5));
        output.WriteLine(server.Output);
        Assert.Equal(0, exit);
        Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task SigintStopsLikeSigterm()
    {
        var server = StartStandard();
        await server.WaitUntilServingAsync(port, StartTimeout);
        if (server.IgnoresSignal(ServerProcess.SIGINT))
        {
            output.WriteLine("SKIPPED: SIGINT is ignored in this environment (inherited from a background parent)");
            return;
        }
        server.Signal(ServerProcess.SIGINT);
        Assert.Equal(0, await server.WaitForExitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task ConfigFileAsTheOnlyArgument()
    {
        var config = Path.Combine(dir, "test.conf");
        var lines = new List<string> { $"port {port}", "bind 127.0.0.1", $"dir {dir}", "appendonly no", "# a comment", "" };
        if (RealRedis) lines.Add("save \"\"");
        File.WriteAllLines(config, lines);
        var server = Start(config);
        await server.WaitUntilServingAsync(port, StartTimeout);
        await using var client = await TestClient.ConnectAsync(port);
        Assert.Equal("OK", await client.StatusAsync("SET", "k", "v"));
        Assert.Equal("v", await client.BulkAsync("GET", "k"));
    }

    [Fact]
    public async Task BusyPortPrintsRedisMessageAndExitsOne()
    {
        using var blocker = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        blocker.Bind(new IPEndPoint(IPAddress.Loopback, port));
        blocker.Listen();
        var server = StartStandard();
        Assert.Equal(1, await server.WaitForExitAsync(StartTimeout));
        // Redis 7.0 says "(TCP)", 7.2 "(tcp)": either is Redis's message.
        Assert.True(await server.WaitForLineAsync($"Failed listening on port {port} (", TimeSpan.FromSeconds(5)), server.Output);
        Assert.Contains($"Failed listening on port {port} (tcp), aborting.", server.Output, StringComparison.OrdinalIgnoreCase);
        Assert.Contains($"Could not create server TCP listening socket 127.0.0.1:{port}: bind: Address already in use", server.Output);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var process in started)
        {
            output.WriteLine($"--- output of pid {process.Pid}:\n{process.Output}");
            await process.DisposeAsync();
        }
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}
