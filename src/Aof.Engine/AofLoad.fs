namespace Aof.Engine

// Loading: the manifest names a base and incr files; each is read in chunks and replayed through Evolve in
// order. A file may end in the middle of a command (a crash during a write): in the last file that is the
// expected torn tail, cut off when `aof-load-truncated yes`; anywhere else, or with `no`, loading stops.
// A transaction left open at the end counts as torn at its MULTI. Bytes that are not an AOF stop loading
// with their offset: nothing is ever skipped silently.

open System
open System.Diagnostics
open System.IO
open Aof.Core

/// Where the AOF lives and what its manifest says.
type AofLayout =
    { /// The AOF directory (`dir/appenddirname`).
      Dir: string
      AppendFilename: string
      Manifest: Manifest }

module AofLayout =
    let manifestPath (l: AofLayout) = Path.Combine(l.Dir, Manifest.fileName l.AppendFilename)
    let filePath (l: AofLayout) (name: string) = Path.Combine(l.Dir, name)

    /// Replaces the manifest on disk atomically (temp file, fsync, rename, fsync of the directory).
    let persist (l: AofLayout) : unit =
        FileSink.replaceDurably (manifestPath l) (Text.Encoding.Latin1.GetBytes(Manifest.format l.Manifest))

/// How one file's replay ended.
type private FileEnd =
    | Complete
    /// The file ends inside a command (or an open transaction): the valid prefix ends at this offset.
    | Torn of validUpTo: int64
    | Bad of offset: int64 * reason: string

module AofLoad =
    let private chunkSize = 4 * 1024 * 1024

    /// Replays one AOF file onto `ks`. `now` is the load time, used only for the rare relative forms an old
    /// Redis wrote (its SET ... PX in legacy files).
    let private replayFile (path: string) (now: int64) (ks: Keyspace) : Result<Keyspace * FileEnd * int64, string> =
        use stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan)
        let mutable buf = Array.zeroCreate<byte> chunkSize
        let mutable filled = 0
        let mutable start = 0
        // Absolute file offset of buf[0].
        let mutable bufOffset = 0L
        let mutable eof = false
        let mutable db = 0
        let mutable inTx = false
        let mutable txStart = 0L
        let mutable validUpTo = 0L
        let mutable ending = None
        let mutable fatal = None
        let mutable commands = 0L
        let ctx = { Now = now; NowMicros = now * 1000L; Random = 0UL; MaxBulkLen = Int64.MaxValue }

        // Facts are folded as they are read, through one BulkFold whose transients stay open for the whole
        // file; only a command that must read the state (below) freezes them. Nothing per command outlives
        // its turn but the keys and values themselves, so the collector has little to promote.
        let fold = Evolve.BulkFold ks
        // A transaction's facts, newest first, until its EXEC.
        let mutable tx: Event list = []

        let add (e: Event) =
            if inTx then tx <- e :: tx else fold.Add e

        let mutable setKey: byte[] = null
        let mutable setValue: byte[] = null

        while ending.IsNone && fatal.IsNone do
            let mutable consumed = 0

            if not inTx && AofReader.TryReadSet(ReadOnlySpan(buf, start, filled - start), &consumed, &setKey, &setValue) then
                // A plain SET, read without its argument array.
                start <- start + consumed
                commands <- commands + 1L
                fold.Set(db, setKey, setValue)
                validUpTo <- bufOffset + int64 start
            else
                let mutable args: byte[][] = null
                let mutable error: string = null
                let status = AofReader.TryRead(ReadOnlySpan(buf, start, filled - start), &consumed, &args, &error)
                let at = bufOffset + int64 start

                match status with
                | AofRead.Annotation ->
                    start <- start + consumed
                    if not inTx then validUpTo <- bufOffset + int64 start
                | AofRead.Command ->
                    start <- start + consumed
                    commands <- commands + 1L
                    let endOffset = bufOffset + int64 start

                    let name = args[0]

                    if args.Length = 2 && Bytes.eqLower "select" name then
                        match Num.tryParseInt64 args[1] with
                        | ValueSome n when n >= 0L && n < int64 (Keyspace.databases ks) -> db <- int n
                        | _ -> fatal <- Some(sprintf "Bad file format reading the append only file %s: invalid SELECT at offset %d" (Path.GetFileName path) at)
                    elif Bytes.eqLower "multi" name then
                        // A MULTI inside an open one changes nothing, as in Redis's loader: what was queued stays.
                        if not inTx then
                            inTx <- true
                            txStart <- at
                            tx <- []
                    elif Bytes.eqLower "exec" name then
                        // An EXEC with no MULTI does nothing in Redis's loader either.
                        if inTx then
                            inTx <- false

                            for e in List.rev tx do
                                fold.Add e

                            tx <- []
                    else
                        match Event.ofArgs db args with
                        | Ok e -> add e
                        | Error _ ->
                            match Command.parse args with
                            | Ok(Request.Data cmd) ->
                                // A command that is not already a fact (an old Redis's relative forms): decide it
                                // against the state so far.
                                for e in (Decide.decide ctx fold.State db cmd).Events do
                                    add e
                            | _ ->
                                fatal <-
                                    Some(
                                        sprintf "Unknown command '%s' reading the append only file %s" (Bytes.toString args[0]) (Path.GetFileName path)
                                    )

                    if not inTx then validUpTo <- endOffset
                | AofRead.Malformed -> ending <- Some(Bad(at, error))
                | _ ->
                    // Incomplete: read more, or the file ends here.
                    if eof then
                        ending <-
                            Some(
                                if inTx then Torn txStart
                                elif start < filled then Torn validUpTo
                                else Complete
                            )
                    else
                        // Keep the unread tail at the front and fill the rest; grow for a command bigger than a chunk.
                        let tail = filled - start

                        if start > 0 then
                            Buffer.BlockCopy(buf, start, buf, 0, tail)
                            bufOffset <- bufOffset + int64 start
                            start <- 0
                            filled <- tail
                        elif filled = buf.Length then
                            let bigger = Array.zeroCreate<byte> (buf.Length * 2)
                            Buffer.BlockCopy(buf, 0, bigger, 0, filled)
                            buf <- bigger

                        let n = stream.Read(buf, filled, buf.Length - filled)
                        if n = 0 then eof <- true else filled <- filled + n

        match fatal with
        | Some message -> Error message
        | None -> Ok(fold.State, ending.Value, commands)

    /// What loading found and left in place.
    type Loaded =
        { Keyspace: Keyspace
          Layout: AofLayout
          /// The incr file new writes go to (created if the manifest had none).
          IncrPath: string }

    let private newLayout (settings: Settings) (manifest: Manifest) =
        { Dir = Path.Combine(settings.Dir, settings.AppendDirname)
          AppendFilename = settings.AppendFilename
          Manifest = manifest }

    /// Replays the files the manifest names, in order, handling a torn tail as configured.
    let replay (settings: Settings) (log: Log) (layout: AofLayout) (ks: Keyspace) : Result<Keyspace, string> =
        let files = Manifest.liveFiles layout.Manifest
        let last = List.length files - 1
        let now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()

        let rec go i (files: AofFileInfo list) ks =
            match files with
            | [] -> Ok ks
            | f :: rest ->
                let path = AofLayout.filePath layout f.Name
                let kind = if f.Type = AofFileType.Base then "base" else "incr"
                let sw = Stopwatch.StartNew()

                if not (File.Exists path) then
                    // A file the manifest names and the disk lacks is data gone: the start stops, as Redis's does.
                    Error(sprintf "Unable to obtain the AOF file %s length. stat: No such file or directory" f.Name)
                elif (FileInfo path).Length >= 5L && (using (File.OpenRead path) (fun s -> let b = Array.zeroCreate 5 in s.ReadExactly(b, 0, 5); b)) = "REDIS"B then
                    Error(sprintf "The AOF base file %s starts with an RDB preamble, which this server cannot read yet: rewrite it with aof-use-rdb-preamble no in Redis first" f.Name)
                else
                    match replayFile path now ks with
                    | Error message -> Error message
                    | Ok(ks, ending, _) ->
                        let loaded () = log.Notice(sprintf "DB loaded from %s file %s: %.3f seconds" kind f.Name sw.Elapsed.TotalSeconds)

                        match ending with
                        | Complete ->
                            loaded ()
                            go (i + 1) rest ks
                        | Bad(offset, reason) ->
                            Error(
                                sprintf
                                    "Bad file format reading the append only file %s at offset %d (%s): make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
                                    f.Name
                                    offset
                                    reason
                            )
                        | Torn validUpTo when i = last && settings.AofLoadTruncated ->
                            log.Warning(sprintf "!!! Warning: short read while loading the AOF file %s!!!" f.Name)
                            log.Warning(sprintf "!!! Truncating the AOF %s at offset %d !!!" f.Name validUpTo)

                            using (File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite)) (fun h -> RandomAccess.SetLength(h, validUpTo))

                            log.Warning(sprintf "AOF %s loaded anyway because aof-load-truncated is enabled" f.Name)
                            loaded ()
                            go (i + 1) rest ks
                        | Torn _ ->
                            Error(
                                sprintf
                                    "Unexpected end of file reading the append only file %s. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
                                    f.Name
                            )

        go 0 files ks

    /// Finds the AOF on disk and loads it: a Redis 7 manifest, or a legacy single `appendonly.aof` (loaded
    /// and moved into the directory as its base, as Redis 7 upgrades it), or nothing (a fresh base and incr).
    let load (settings: Settings) (log: Log) : Result<Loaded, string> =
        let empty = newLayout settings Manifest.empty
        let manifestPath = AofLayout.manifestPath empty
        let legacyPath = Path.Combine(settings.Dir, settings.AppendFilename)
        let ks0 = Keyspace.create settings.Databases
        let sw = Stopwatch.StartNew()

        let found =
            if File.Exists manifestPath then
                match Manifest.parse (File.ReadAllBytes manifestPath) with
                | Error e -> Error e
                | Ok m -> Ok(newLayout settings m, false)
            elif File.Exists legacyPath then
                Ok(newLayout settings { Manifest.empty with Base = Some { Name = settings.AppendFilename; Seq = 1L; Type = AofFileType.Base } }, true)
            else
                Ok(empty, false)

        match found with
        | Error e -> Error e
        | Ok(layout, legacy) ->
            Directory.CreateDirectory layout.Dir |> ignore

            let replayed =
                if legacy then
                    // The old file is replayed where it is, then moved in as the base of the new layout.
                    match replay settings log { layout with Dir = settings.Dir } ks0 with
                    | Error e -> Error e
                    | Ok ks ->
                        File.Move(legacyPath, AofLayout.filePath layout settings.AppendFilename)
                        AofLayout.persist layout
                        log.Notice(sprintf "Successfully migrated an old-style AOF into the AOF directory %s." settings.AppendDirname)
                        Ok ks
                else
                    replay settings log layout ks0

            match replayed with
            | Error e -> Error e
            | Ok ks ->
                let mutable layout = layout

                if layout.Manifest.Base.IsNone && layout.Manifest.Incrs.IsEmpty then
                    let name = Manifest.baseFileName settings.AppendFilename 1L
                    File.WriteAllBytes(AofLayout.filePath layout name, [||])
                    log.Notice(sprintf "Creating AOF base file %s on server start" name)
                    layout <- { layout with Manifest = { layout.Manifest with Base = Some { Name = name; Seq = 1L; Type = AofFileType.Base } } }

                let incr =
                    match Manifest.lastIncr layout.Manifest with
                    | Some f ->
                        log.Notice(sprintf "Opening AOF incr file %s on server start" f.Name)
                        f
                    | None ->
                        let seq = 1L + (layout.Manifest.Incrs |> List.fold (fun m f -> max m f.Seq) 0L)
                        let f = { Name = Manifest.incrFileName settings.AppendFilename seq; Seq = seq; Type = AofFileType.Incr }
                        log.Notice(sprintf "Creating AOF incr file %s on server start" f.Name)
                        layout <- { layout with Manifest = { layout.Manifest with Incrs = layout.Manifest.Incrs @ [ f ] } }
                        AofLayout.persist layout
                        f

                if File.Exists manifestPath |> not then AofLayout.persist layout

                if Manifest.liveFiles layout.Manifest |> List.exists (fun f -> File.Exists(AofLayout.filePath layout f.Name) && (FileInfo(AofLayout.filePath layout f.Name)).Length > 0L) then
                    log.Notice(sprintf "DB loaded from append only file: %.3f seconds" sw.Elapsed.TotalSeconds)

                Ok
                    { Keyspace = ks
                      Layout = layout
                      IncrPath = AofLayout.filePath layout incr.Name }
