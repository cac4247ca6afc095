namespace Aof.Engine

// Writing a new base: the projection of a snapshot (Rewrite.iterTo) goes to a temporary file, is synced and
// renamed to the next base name; a new, empty incr file takes the writes that follow; then the manifest is
// switched atomically to the new pair, and only after that are the files it no longer names deleted.
// A crash before the switch leaves the old manifest and files in force (the temporary is cleaned up on
// the next start); a crash after it leaves stray old files that the manifest no longer names.

open System
open System.Buffers
open System.IO
open Aof.Core

module AofBase =
    let private tempPrefix = "temp-rewriteaof-"
    let private chunkBytes = 64 * 1024
    /// Chunks per incremental sync: 4 MiB, Redis's REDIS_AUTOSYNC_BYTES.
    let private syncEvery = (4 <<< 20) / chunkBytes

    /// Removes temporaries a crash may have left in the AOF directory.
    let cleanTemporaries (dir: string) : unit =
        if Directory.Exists dir then
            for f in Directory.GetFiles(dir, tempPrefix + "*") do
                File.Delete f

    /// A temporary in `dir` for a base in the making; `tag` keeps two writers of one process apart (Redis
    /// names the rewrite child's file `temp-rewriteaof-bg-<pid>.aof`).
    let tempPath (dir: string) (tag: string) : string =
        Path.Combine(dir, sprintf "%s%s%d.aof" tempPrefix tag Environment.ProcessId)

    /// Where a base's chunks go.
    type private Output =
        inherit IDisposable
        abstract Write: ReadOnlySpan<byte> -> unit
        /// The incremental sync (aof-rewrite-incremental-fsync).
        abstract SyncSoFar: unit -> unit
        /// All written and synced.
        abstract Finish: unit -> unit

    /// Through the page cache, as Redis writes. The incremental sync runs beside the serializing of the
    /// next chunks (one sync at a time), so the disk flushes while the CPU works instead of after it.
    let private cached (temp: string) : Output =
        let sink = FileSink.openAppend temp
        let mutable syncing = Threading.Tasks.Task.CompletedTask

        try
            sink.Truncate 0L
        with _ ->
            sink.Dispose()
            reraise ()

        { new Output with
            member _.Write data = sink.Write data

            member _.SyncSoFar() =
                syncing.GetAwaiter().GetResult()
                syncing <- Threading.Tasks.Task.Run(fun () -> sink.Sync())

            member _.Finish() =
                syncing.GetAwaiter().GetResult()
                sink.Sync()

            member _.Dispose() =
                // A failure elsewhere must not close the file under a sync still running.
                try syncing.Wait() with _ -> ()
                sink.Dispose() }

    let private direct (file: DirectFile) : Output =
        { new Output with
            member _.Write data = file.Write data
            member _.SyncSoFar() = file.SyncBlocks()
            member _.Finish() = file.Finish()
            member _.Dispose() = (file :> IDisposable).Dispose() }

    /// Writes the events `produce` hands out to the file `temp`, in chunks, and syncs it. With
    /// `incrementalSync` (aof-rewrite-incremental-fsync) every 4 MiB is synced as it goes, as Redis does, so
    /// the final sync never has a whole base to flush at once. `step` is told "base-half-written" after the
    /// first chunk (a test hook). The file is written past the page cache where the file system allows it
    /// (see DirectFile), through it otherwise.
    let writeTemp (temp: string) (stamp: int64 voption) (produce: IProjection -> unit) (incrementalSync: bool) (step: string -> unit) : unit =
        use out =
            match DirectFile.TryCreate temp with
            | Some file -> direct file
            | None -> cached temp

        // Chunks of 64 KiB in a buffer below the large-object threshold (85,000 bytes): a 1 MiB buffer
        // per rewrite went to the large-object heap, whose allocations count towards starting full
        // collections. A small chunk also stays in the writer's own cache.
        let buffer = ArrayBufferWriter<byte>(chunkBytes + 16 * 1024)
        // With aof-timestamp-enabled, Redis starts a base with the time it was taken.
        stamp |> ValueOption.iter (AofFormat.writeTimestamp buffer)
        let mutable db = -1
        let mutable chunks = 0
        let mutable keys = 0

        let chunkDone () =
            keys <- keys + 1
            // ~50 us of work at ~0.35 us a key.
            if keys &&& 127 = 0 then Background.pause ()

            if buffer.WrittenCount >= chunkBytes then
                out.Write buffer.WrittenSpan
                buffer.ResetWrittenCount()
                chunks <- chunks + 1
                if chunks = 1 then step "base-half-written"
                if incrementalSync && chunks % syncEvery = 0 then out.SyncSoFar()

        produce
            { new IProjection with
                member _.String(d, key, value) =
                    db <- AofFormat.writeSet buffer db d key value
                    chunkDone ()

                member _.Event e =
                    db <- AofFormat.writeEvent buffer db e
                    chunkDone () }

        out.Write buffer.WrittenSpan
        if chunks = 0 then step "base-half-written"
        out.Finish()

    /// Puts a synced temporary in place as `path`, durably (rename, fsync of the directory); `step` is told
    /// "base-written" (a test hook).
    let commit (temp: string) (path: string) (step: string -> unit) : unit =
        File.Move(temp, path, true)
        FileSink.syncDirectory (Path.GetDirectoryName path)
        step "base-written"

    /// Writes the events `produce` hands out as an AOF file at `path`, durably: a temporary, fsync, rename,
    /// fsync of the directory.
    let writeFile (path: string) (stamp: int64 voption) (produce: IProjection -> unit) : unit =
        let temp = tempPath (Path.GetDirectoryName path) ""

        try
            writeTemp temp stamp produce true ignore
            commit temp path ignore
        with _ ->
            // A full disk must not stay full of a base that will never be used.
            File.Delete temp
            reraise ()

    /// Makes the events `produce` hands out the new base, with a fresh incr after it; returns the new layout
    /// and the incr's path.
    let switchTo (log: Log) (layout: AofLayout) (stamp: int64 voption) (produce: IProjection -> unit) : AofLayout * string =
        Directory.CreateDirectory layout.Dir |> ignore
        let m = layout.Manifest
        let baseSeq = 1L + (m.Base |> Option.map (fun b -> b.Seq) |> Option.defaultValue 0L)
        let incrSeq = 1L + (m.Incrs |> List.fold (fun s f -> max s f.Seq) 0L)
        let baseInfo = { Name = Manifest.baseFileName layout.AppendFilename baseSeq; Seq = baseSeq; Type = AofFileType.Base }
        let incrInfo = { Name = Manifest.incrFileName layout.AppendFilename incrSeq; Seq = incrSeq; Type = AofFileType.Incr }
        let old = Option.toList m.Base @ m.Incrs
        let history = m.History @ (old |> List.map (fun f -> { f with Type = AofFileType.History }))

        let switched =
            { layout with
                Manifest =
                    { Base = Some baseInfo
                      History = history
                      Incrs = [ incrInfo ] } }

        try
            writeFile (AofLayout.filePath layout baseInfo.Name) stamp produce
            File.WriteAllBytes(AofLayout.filePath layout incrInfo.Name, [||])
            AofLayout.persist switched
        with _ ->
            // Until the manifest names them, the new files are nobody's: the old ones stay in force.
            for f in [ baseInfo; incrInfo ] do
                File.Delete(AofLayout.filePath layout f.Name)

            reraise ()

        for f in history do
            let p = AofLayout.filePath layout f.Name
            if File.Exists p then File.Delete p

        let clean = { switched with Manifest = { switched.Manifest with History = [] } }
        AofLayout.persist clean
        log.Notice(sprintf "New AOF base %s and incr %s in force" baseInfo.Name incrInfo.Name)
        clean, AofLayout.filePath clean incrInfo.Name
