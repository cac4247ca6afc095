// The redis-server-like executable: the engine parses arguments and owns the data; this only listens.
using System.Runtime.InteropServices;
using Aof.Server;

// For the host of platforms without our epoll loop, which .NET's sockets serve: socket completions run on
// .NET's event thread instead of hopping to the thread pool, which on a small machine saves a context
// switch per request (docs/benchmarks.md). The runtime reads these variables when the
// first socket is made, and only from the environment, so they are set here, first thing.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
// One event loop, as Redis has: commands run one at a time under the engine's lock anyway, and a second
// socket thread mostly contended for that lock and for the cores the clients need (docs/benchmarks.md).
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT") is null)
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT", "1");

var started = Aof.Engine.Server.Start(args);
if (started.IsError)
{
    var (message, code) = started.ErrorValue;
    // --help and --version end with code 0 and belong on stdout; real failures go to stderr.
    (code == 0 ? Console.Out : Console.Error).WriteLine(message);
    return code;
}
var server = started.ResultValue;

// SIGTERM and Ctrl+C ask for the same clean stop as SHUTDOWN; a second signal while stopping is let
// through to kill the process, for an operator who really wants it gone.
void OnSignal(PosixSignalContext context)
{
    if (server.ShutdownRequested.IsCancellationRequested) return;
    context.Cancel = true;
    server.RequestShutdown();
}
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

Host host;
try
{
    host = Host.Listen(server);
}
catch (HostBindException e)
{
    Console.Error.WriteLine(e.Message);
    server.Stop(); // the engine may already have written a pidfile
    return 1;
}

await using (host)
{
    server.Ready();
    await host.RunAsync(server.ShutdownRequested);
}
server.Stop();
// 1 when loading the AOF failed (the log says why), as redis-server exits.
return server.ExitCode;
