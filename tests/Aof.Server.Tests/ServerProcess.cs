using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Aof.Server.Tests;

/// <summary>
/// A server running as a child process — our compiled Aof.Server.dll or a real redis-server — with its
/// stdout and stderr collected line by line, so tests can wait for log lines and send it signals.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    readonly Process process;
    readonly List<string> lines = [];

    ServerProcess(Process process) => this.process = process;

    public int Pid => process.Id;

    /// <summary>Our server as built next to the tests (the test project references Aof.Server).</summary>
    public static string OurServerDll => Path.Combine(AppContext.BaseDirectory, "Aof.Server.dll");

    /// <summary>Starts our server, or redis-server when <paramref name="realRedis"/> (both take the same arguments).</summary>
    public static ServerProcess Start(IEnumerable<string> args, bool realRedis)
    {
        var info = realRedis ? new ProcessStartInfo(Tools.Find("redis-server") ?? throw new InvalidOperationException("redis-server is not installed"))
                             : new ProcessStartInfo(DotnetHost, [OurServerDll]);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var server = new ServerProcess(process);
        process.OutputDataReceived += (_, e) => server.Add(e.Data);
        process.ErrorDataReceived += (_, e) => server.Add(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    /// <summary>The `dotnet` running these tests, so the child uses the same runtime.</summary>
    static string DotnetHost =>
        Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";

    void Add(string? line)
    {
        if (line is null) return;
        lock (lines) lines.Add(line);
    }

    /// <summary>Everything the process printed so far (stdout and stderr interleaved as they arrived).</summary>
    public IReadOnlyList<string> Lines
    {
        get { lock (lines) return lines.ToList(); }
    }

    public string Output => string.Join('\n', Lines);

    public bool HasExited => process.HasExited;

    /// <summary>Waits until a line contains <paramref name="text"/>; false if the time runs out or the process exits first.</summary>
    public async Task<bool> WaitForLineAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Lines.Any(l => l.Contains(text, StringComparison.Ordinal))) return true;
            if (process.HasExited)
            {
                // The last lines may still be on their way through the redirect.
                process.WaitForExit();
                return Lines.Any(l => l.Contains(text, StringComparison.Ordinal));
            }
            await Task.Delay(20);
        }
        return false;
    }

    /// <summary>Waits until PING on <paramref name="port"/> answers, failing early if the process dies.</summary>
    public async Task WaitUntilServingAsync(int port, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"server exited with {process.ExitCode} before serving:\n{Output}");
            try
            {
                await using var client = await TestClient.ConnectAsync(port);
                // Any answer will do: with requirepass, PING gets NOAUTH, which still means "serving".
                var reply = await client.CallAsync("PING");
                if (reply is Reply.Status { Text: "PONG" } || reply is Reply.Error e && e.Text.StartsWith("NOAUTH", StringComparison.Ordinal)) return;
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or TimeoutException)
            {
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"server not serving on {port} after {timeout}:\n{Output}");
            await Task.Delay(50);
        }
    }

    /// <summary>Sends a POSIX signal (SIGTERM = 15, SIGINT = 2, SIGKILL = 9).</summary>
    public void Signal(int signal)
    {
        if (Kill(process.Id, signal) != 0)
            throw new InvalidOperationException($"kill({process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>
    /// True when the process ignores <paramref name="signal"/> without catching it — as a child of a
    /// shell that started us in the background inherits for SIGINT, which .NET then leaves alone.
    /// </summary>
    public bool IgnoresSignal(int signal)
    {
        ulong Mask(string field) => Convert.ToUInt64(
            File.ReadLines($"/proc/{process.Id}/status").First(l => l.StartsWith(field + ":"))[(field.Length + 1)..].Trim(), 16);
        if (!OperatingSystem.IsLinux()) return false;
        var bit = 1UL << (signal - 1);
        return (Mask("SigIgn") & bit) != 0 && (Mask("SigCgt") & bit) == 0;
    }

    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int Kill(int pid, int signal);

    /// <summary>The exit code, or null if the process is still running after <paramref name="timeout"/>.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
            return process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            await WaitForExitAsync(TimeSpan.FromSeconds(5));
        }
        process.Dispose();
    }
}
