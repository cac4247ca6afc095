/// `--fix`: truncating a torn tail, asking first unless `--yes`, and refusing where Redis refuses. Also
/// runs the built `aof` as a process, reading its answer from a real stdin.
module Aof.Cli.Tests.FixTests

open System
open System.IO
open Xunit
open Xunit.Abstractions
open Aof.Cli.Tests.Support

let private torn =
    let whole = Array.concat [ cmd [ "SET"; "a"; "1" ]; cmd [ "SET"; "b"; "2" ]; cmd [ "SET"; "c"; "3" ] ]
    whole[.. whole.Length - 6]

let private validLength = (cmd [ "SET"; "a"; "1" ]).Length * 2

type Fix(output: ITestOutputHelper) =
    [<Fact>]
    member _.``--fix --yes cuts a torn tail, after which the file is valid (and redis-check-aof agrees)``() =
        use dir = new TempDir()
        let path = dir.Write("appendonly.aof", torn)
        let rc, out = runOurs [ "check"; path; "--fix"; "--yes" ] ""
        output.WriteLine out
        Assert.Equal(0, rc)
        Assert.Contains(sprintf "Successfully truncated AOF %s\n" path, out)
        Assert.DoesNotContain("Continue?", out)
        Assert.Equal(int64 validLength, FileInfo(path).Length)
        let rc, out = runOurs [ "check"; path ] ""
        Assert.Equal(0, rc)
        Assert.EndsWith(sprintf "AOF %s is valid\n" path, out)

        if requireRedis output then
            let rc, out = runRedis [ path ] ""
            Assert.Equal(0, rc)
            Assert.EndsWith(sprintf "AOF %s is valid\n" path, out)

    [<Fact>]
    member _.``--fix asks first: "n" (or nothing) leaves the file alone and fails; "y" cuts``() =
        use dir = new TempDir()
        let path = dir.Write("appendonly.aof", torn)

        for answer in [ "n\n"; ""; "\n"; "no\n" ] do
            let rc, out = runOurs [ "check"; "--fix"; path ] answer
            Assert.Equal(1, rc)
            Assert.EndsWith("Continue? [y/N]: Aborting...\n", out)
            Assert.Equal<byte[]>(torn, File.ReadAllBytes path)

        let rc, out = runOurs [ "check"; "--fix"; path ] "y\n"
        Assert.Equal(0, rc)

        Assert.Contains(
            sprintf "This will shrink the AOF %s from %d bytes, with %d bytes, to %d bytes\nContinue? [y/N]: Successfully truncated AOF %s\n"
                path torn.Length (torn.Length - validLength) validLength path,
            out
        )

        Assert.Equal(int64 validLength, FileInfo(path).Length)

    [<Fact>]
    member _.``--fix refuses damage before the last file, and leaves the files alone``() =
        use dir = new TempDir()
        let ping = cmd [ "PING" ]
        dir.Write("m.manifest", bytes "file b.aof seq 1 type b\nfile i1.aof seq 1 type i\nfile i2.aof seq 2 type i\n") |> ignore
        dir.Write("b.aof", ping) |> ignore
        let middle = dir.Write("i1.aof", torn)
        dir.Write("i2.aof", ping) |> ignore
        let rc, out = runOurs [ "check"; "--fix"; "--yes"; dir.File "m.manifest" ] ""
        Assert.Equal(1, rc)
        Assert.EndsWith("Failed to truncate AOF i1.aof because it is not the last file\n", out)
        Assert.Equal<byte[]>(torn, File.ReadAllBytes middle)

    [<Fact>]
    member _.``--fix on a valid file changes nothing``() =
        use dir = new TempDir()
        let file = cmd [ "PING" ]
        let path = dir.Write("appendonly.aof", file)
        let rc, out = runOurs [ "check"; "--fix"; path ] ""
        Assert.Equal(0, rc)
        Assert.EndsWith("is valid\n", out)
        Assert.Equal<byte[]>(file, File.ReadAllBytes path)

    [<Fact>]
    member _.``the built aof runs as a process and reads its answer from stdin``() =
        let dll = Path.Combine(AppContext.BaseDirectory, "aof.dll")
        Assert.True(File.Exists dll, dll + " is missing")
        let dotnet = Environment.GetEnvironmentVariable "DOTNET_HOST_PATH" |> Option.ofObj |> Option.defaultValue "dotnet"
        use dir = new TempDir()
        let path = dir.Write("appendonly.aof", torn)
        let rc, out = runProcess dotnet [ dll; "check"; "--fix"; path ] "n\n"
        output.WriteLine out
        Assert.Equal(1, rc)
        Assert.EndsWith("Continue? [y/N]: Aborting...\n", out)
        Assert.Equal<byte[]>(torn, File.ReadAllBytes path)
        let rc, out = runProcess dotnet [ dll; "check"; "--fix"; path ] "y\n"
        Assert.Equal(0, rc)
        Assert.EndsWith(sprintf "Successfully truncated AOF %s\n" path, out)
        Assert.Equal(int64 validLength, FileInfo(path).Length)

        if requireRedis output then
            Assert.Equal(runRedis [ path ] "", runProcess dotnet [ dll; "check"; path ] "")

    [<Fact>]
    member _.``RDB preambles are reported as not supported yet, exit 1``() =
        use dir = new TempDir()
        let rdb = Array.append (bytes "REDIS0011") (Array.zeroCreate 40)
        let path = dir.Write("appendonly.aof", rdb)
        let rc, out = runOurs [ "check"; path ] ""
        Assert.Equal(1, rc)
        Assert.Equal(sprintf "Start checking Old-Style AOF\nAOF %s starts with an RDB preamble: checking RDB bases is not supported yet\n" path, out)
        dir.Write("b.rdb", rdb) |> ignore
        let manifest = dir.Write("m.manifest", bytes "file b.rdb seq 1 type b\n")
        let rc, out = runOurs [ "check"; manifest ] ""
        Assert.Equal(1, rc)
        Assert.Contains("Start to check BASE AOF (RDB format).\nAOF b.rdb starts with an RDB preamble: checking RDB bases is not supported yet\n", out)

    [<Fact>]
    member _.``bad command lines exit 1, --help exits 0``() =
        Assert.Equal(1, fst (runOurs [ "check" ] ""))
        Assert.Equal(1, fst (runOurs [ "check"; "a"; "b" ] ""))
        Assert.Equal(1, fst (runOurs [ "frobnicate" ] ""))
        Assert.Equal(1, fst (runOurs [] ""))
        Assert.Equal(0, fst (runOurs [ "check"; "--help" ] ""))
