namespace Aof.Engine.Tests

// A real full filesystem: a 512 KiB tmpfs (needs root on Linux; otherwise the test says it was skipped).

open System
open System.Diagnostics
open System.IO
open Xunit
open Xunit.Abstractions
open Aof.Core
open Aof.Engine
open Aof.Engine.Tests.AofSupport

/// Runs a program to its end: the exit code and what it printed.
module private Processes =
    let run (program: string) (args: string list) : int * string =
        let info = ProcessStartInfo(program, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)

        for a in args do
            info.ArgumentList.Add a

        try
            use p = Process.Start info
            let out = p.StandardOutput.ReadToEndAsync()
            let err = p.StandardError.ReadToEndAsync()

            if not (p.WaitForExit 30000) then
                p.Kill()
                -1, sprintf "%s did not finish in 30 s" program
            else
                p.ExitCode, (out.Result + err.Result).Trim()
        with e ->
            -1, e.Message

type AofFsTests(output: ITestOutputHelper) =
    let enospc = "No space left on device"

    /// A fresh server on `dir` loads the dataset whose DEBUG DIGEST was `expected`.
    let assertDigestAfterRestart (dir: string) (logFile: string) (expected: string) =
        let again = openWith EngineHooks.Default dir logFile [ "--enable-debug-command"; "yes" ]

        try
            Assert.Equal(expected, digest again (connect again))
        finally
            again.Stop()

    /// Runs `test` with a tmpfs of `size` mounted on a fresh directory, and a directory for the log beside
    /// it; says why it skipped where the machine does not allow the mount.
    let withSmallTmpfs (size: string) (test: string -> string -> unit) =
        if not (OperatingSystem.IsLinux()) then
            output.WriteLine "SKIPPED: needs Linux to mount a small tmpfs"
        elif not Environment.IsPrivilegedProcess then
            output.WriteLine(sprintf "SKIPPED: needs root to mount a small tmpfs (mount -t tmpfs -o size=%s)" size)
        else
            let mountPoint = tempDir "tmpfs"
            let logDir = tempDir "tmpfs-log"

            match Processes.run "mount" [ "-t"; "tmpfs"; "-o"; "size=" + size; "tmpfs"; mountPoint ] with
            | code, text when code <> 0 ->
                output.WriteLine(sprintf "SKIPPED: mount -t tmpfs -o size=%s failed (exit %d): %s" size code text)
                deleteDir mountPoint
                deleteDir logDir
            | _ ->
                try
                    test mountPoint logDir
                finally
                    match Processes.run "umount" [ mountPoint ] with
                    | 0, _ -> ()
                    | code, text -> output.WriteLine(sprintf "umount %s failed (exit %d): %s" mountPoint code text)

                    deleteDir mountPoint
                    deleteDir logDir

    [<Fact>]
    member _.``on a full disk writes are refused, reads go on, and freeing space lets writes resume with nothing lost``() =
        withSmallTmpfs "512k" (fun mountPoint logDir ->
            // Room to give back later.
            let filler = Path.Combine(mountPoint, "filler")
            File.WriteAllBytes(filler, Array.create (128 * 1024) 'f'B)
            let logFile = Path.Combine(logDir, "server.log")
            let s = openWith EngineHooks.Default mountPoint logFile [ "--appendfsync"; "everysec" ]
            let c = connect s
            let acknowledged = ResizeArray<string list>()
            let value = String('v', 1000)

            try
                let mutable refused = None
                let mutable i = 0

                while refused.IsNone do
                    if i > 5000 then failwith "5000 writes of 1000 bytes went into a 512 KiB filesystem"
                    let cmd = [ "SET"; sprintf "k%d" i; value ]

                    match call s c cmd with
                    | Reply.Error e -> refused <- Some e
                    | _ -> acknowledged.Add cmd

                    i <- i + 1

                output.WriteLine(sprintf "%d writes acknowledged before the first refusal" acknowledged.Count)
                Assert.Equal(Some("MISCONF Errors writing to the AOF file: " + enospc), refused)
                Assert.Equal(misconf enospc, call s c [ "SET"; "another"; "x" ])
                Assert.Equal("err", infoField s c "persistence" "aof_last_write_status")
                Assert.Equal(bulk value, call s c [ "GET"; "k0" ])
                Assert.Equal(bulk value, call s c [ "GET"; List.last (List.ofSeq acknowledged) |> List.item 1 ])
                Assert.Contains("Error writing to the AOF file: " + enospc, readLog logFile)

                // Nothing half-written is left in the file while the disk is full.
                let _, tail = parseAof (readShared (incrPath mountPoint))
                Assert.Equal(Clean, tail)

                File.Delete filler
                eventually "writes to be accepted again" 10000 (fun () -> infoField s c "persistence" "aof_last_write_status" = "ok")
                let after = [ "SET"; "after"; "space" ]
                Assert.Equal(Reply.ok, call s c after)
                acknowledged.Add after
            finally
                s.Stop()

            let expected, expectedDigest = reference (List.ofSeq acknowledged)
            let again = openWith EngineHooks.Default mountPoint logFile [ "--enable-debug-command"; "yes" ]

            try
                let state = snapshot again
                Assert.True((state = expected), sprintf "after a restart %d keys, expected %d" state[0].Count expected[0].Count)
                Assert.Equal(expectedDigest, digest again (connect again))
            finally
                again.Stop())

    [<Fact>]
    member _.``a rewrite that fills the disk fails, leaves the old files in force and removes its temporary``() =
        // The base is written past the page cache where the file system allows it (tmpfs does): its
        // ENOSPC comes from that path.
        withSmallTmpfs "1m" (fun mountPoint logDir ->
            let logFile = Path.Combine(logDir, "server.log")
            let s = openWith EngineHooks.Default mountPoint logFile [ "--appendfsync"; "everysec"; "--enable-debug-command"; "yes" ]
            let c = connect s
            let value = String('v', 1000)
            let mutable expected = ""

            try
                // ~600 KB in the incr file: a base of the same data does not fit beside it.
                for i in 0..579 do
                    Assert.Equal(Reply.ok, call s c [ "SET"; sprintf "k%d" i; value ])

                let before = manifest mountPoint
                Assert.Equal(Reply.Simple "Background append only file rewriting started", call s c [ "BGREWRITEAOF" ])
                eventually "the rewrite to fail" 20000 (fun () -> infoField s c "persistence" "aof_last_bgrewrite_status" = "err")
                // The log is written behind the server's back.
                eventually "the failure in the log" 10000 (fun () -> (readLog logFile).Contains "Background AOF rewrite terminated with error")
                Assert.Contains("Background AOF rewrite terminated with error: " + enospc, readLog logFile)
                Assert.Empty(Directory.GetFiles(aofDir mountPoint, "temp-*"))
                // The old base and incrs are still named; only the incr opened for the writes that followed
                // the snapshot was added.
                let after = manifest mountPoint
                Assert.Equal(before.Base, after.Base)
                Assert.Equal<AofFileInfo list>(before.Incrs, List.truncate before.Incrs.Length after.Incrs)
                Assert.Equal(Reply.ok, call s c [ "SET"; "after"; "the failure" ])
                expected <- digest s c
            finally
                s.Stop()

            assertDigestAfterRestart mountPoint logFile expected)

    [<Fact>]
    member _.``turning the log on with no room for the base refuses the CONFIG SET, changes nothing and leaves no file``() =
        withSmallTmpfs "1m" (fun mountPoint logDir ->
            let logFile = Path.Combine(logDir, "server.log")
            let s = openWith EngineHooks.Default mountPoint logFile [ "--appendonly"; "no"; "--enable-debug-command"; "yes" ]
            let c = connect s
            let value = String('v', 1000)
            let filler = Path.Combine(mountPoint, "filler")
            let mutable expected = ""

            try
                for i in 0..399 do
                    Assert.Equal(Reply.ok, call s c [ "SET"; sprintf "k%d" i; value ])

                // ~400 KB of base against ~300 KB left.
                File.WriteAllBytes(filler, Array.zeroCreate (700 * 1024))

                Assert.Equal(
                    Reply.Error "ERR CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF. Check server logs.",
                    call s c [ "CONFIG"; "SET"; "appendfsync"; "always"; "appendonly"; "yes" ]
                )

                Assert.Equal(Reply.Array [| Reply.bulkString "appendonly"; Reply.bulkString "no" |], call s c [ "CONFIG"; "GET"; "appendonly" ])
                // Every pair of the refused command is undone, as Redis restores its previous settings.
                Assert.Equal(Reply.Array [| Reply.bulkString "appendfsync"; Reply.bulkString "everysec" |], call s c [ "CONFIG"; "GET"; "appendfsync" ])
                Assert.Equal("0", infoField s c "persistence" "aof_enabled")
                let log = readLog logFile
                Assert.Contains("Write error writing append only file on disk: " + enospc, log)
                Assert.Contains("Failed applying new configuration. Possibly related to new appendonly setting. Restoring previous settings.", log)
                let left = if Directory.Exists(aofDir mountPoint) then Directory.GetFiles(aofDir mountPoint) else [||]
                Assert.True((left.Length = 0), sprintf "files left behind: %A" left)

                // With room again, the same command works.
                File.Delete filler
                Assert.Equal(Reply.ok, call s c [ "CONFIG"; "SET"; "appendonly"; "yes" ])
                Assert.Equal("1", infoField s c "persistence" "aof_enabled")
                expected <- digest s c
            finally
                s.Stop()

            assertDigestAfterRestart mountPoint logFile expected)
