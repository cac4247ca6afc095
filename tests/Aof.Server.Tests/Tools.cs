using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace Aof.Server.Tests;

/// <summary>External programs (redis-cli, redis-benchmark, redis-server) and small process helpers.</summary>
public static class Tools
{
    public static bool IsCI => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The full path of <paramref name="name"/> on PATH, or null.</summary>
    public static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    /// <summary>
    /// True when <paramref name="name"/> is installed. Otherwise the test should return: locally that is a
    /// skip with the reason in the output (xunit 2 has no dynamic skip), and under CI=true it fails,
    /// because CI installs the tools and a missing one means a broken CI setup.
    /// </summary>
    public static bool Require(ITestOutputHelper output, string name)
    {
        if (Find(name) is not null) return true;
        var reason = $"SKIPPED: '{name}' is not installed (apt-get install redis-tools redis-server)";
        if (IsCI) Assert.Fail(reason + " — CI must have it");
        output.WriteLine(reason);
        return false;
    }

    /// <summary>A port nobody listens on right now (the OS picks it; we let go before the server binds).</summary>
    public static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "aof-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    /// <summary>Runs a program to completion with an optional stdin, killing it if it outlives <paramref name="timeout"/>.</summary>
    public static async Task<Result> RunAsync(string program, IEnumerable<string> args, byte[]? stdin = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(Find(program) ?? program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null) await process.StandardInput.BaseStream.WriteAsync(stdin);
        process.StandardInput.Close();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', info.ArgumentList)} did not finish in {timeout}");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }
}
