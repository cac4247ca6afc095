namespace Aof.Engine

// The server's AOF side: whether the log is on, the files it writes, loading at start-up and on DEBUG
// LOADAOF, and switching the log on (a new base from the current dataset) or off at runtime. The executor
// calls Append under its lock and Commit after releasing it, before any reply of the batch is sent.

open System
open System.IO
open Aof.Core

/// What INFO persistence reports about the AOF.
type AofInfo =
    { Enabled: bool
      Loading: bool
      LastWriteOk: bool
      CurrentSize: int64
      BaseSize: int64
      BufferLength: int64
      PendingFsync: bool
      DelayedFsync: int64
      RewriteInProgress: bool
      RewriteScheduled: bool
      LastRewriteTimeSec: int64
      CurrentRewriteTimeSec: int64
      LastRewriteOk: bool
      Rewrites: int64
      /// Failed rewrites since the last one that succeeded.
      ConsecutiveRewriteFailures: int64 }

[<Sealed>]
type Persistence(initial: Settings, log: Log, hooks: EngineHooks, runLocked: (unit -> unit) -> unit) =
    let mutable settings = initial
    let mutable aof: AofLog option = None
    let mutable layout: AofLayout option = None
    let mutable loading = initial.AppendOnly
    // Rewrite state, as INFO names it.
    let mutable rewriting = false
    let mutable rewriteStartMs = 0L
    let mutable lastRewriteSec = -1L
    let mutable lastRewriteOk = true
    let mutable rewrites = 0L
    let mutable consecutiveFailures = 0L
    // Once rewrites keep failing, when automatic ones may start again (0: not decided since the last failure).
    let mutable limitedUntilMs = 0L
    // The AOF's size after loading or the last rewrite: automatic rewrites measure growth against it.
    let mutable rewriteBaseSize = 0L
    // Held while the layout changes and its manifest is persisted, by the rewrite thread and by the
    // executor alike: the manifest is written outside the executor's lock, but never by two at once.
    let manifestLock = obj ()
    // Moves on whenever the log is switched on or off: a rewrite started before that is abandoned (Redis
    // kills its rewrite child then), so it cannot name an older snapshot as the base of a newer log.
    let mutable logGeneration = 0
    // The host loop's doorbell, handed to every log opened (see AofLog.RoundBell).
    let mutable roundBell: Action = null

    let policyOf (s: Settings) =
        match s.AppendFsync with
        | AppendFsync.Always -> SyncPolicy.Always
        | AppendFsync.EverySec -> SyncPolicy.EverySec
        | AppendFsync.No -> SyncPolicy.No

    let openLog (path: string) =
        let l = new AofLog(hooks.OpenSink path, policyOf settings, settings.AofTimestampEnabled, log, hooks.Exit)
        // One clock for the annotations across files, as Redis keeps one: an incr opened in the second of
        // the last annotation starts without one.
        aof |> Option.iter (fun previous -> l.LastTimestamp <- previous.LastTimestamp)
        l.RoundBell <- roundBell
        aof <- Some l

    let closeLog () =
        match aof with
        | Some l ->
            (l :> IDisposable).Dispose()
            aof <- None
        | None -> ()

    /// 0 for a file that is not there. One stat: INFO reads sizes without the manifest's lock, so a rewrite
    /// may delete a file between two calls (File.Exists then FileInfo.Length threw, and INFO closed its
    /// client); FileInfo answers Length from the stat its Exists made.
    let fileSize (l: AofLayout) (f: AofFileInfo) =
        let info = FileInfo(AofLayout.filePath l f.Name)
        if info.Exists then info.Length else 0L

    let sizes () =
        match layout with
        | Some l when aof.IsSome ->
            let baseSize = l.Manifest.Base |> Option.map (fileSize l) |> Option.defaultValue 0L
            baseSize, baseSize + (l.Manifest.Incrs |> List.sumBy (fileSize l))
        | _ -> 0L, 0L

    let nowMs () = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()

    /// The `#TS:` a new base starts with (aof-timestamp-enabled): the time its snapshot was taken.
    let stampAt (s: Settings) (ms: int64) = if s.AofTimestampEnabled then ValueSome(ms / 1000L) else ValueNone

    /// A rewrite's outcome as INFO reports it (aof_last_bgrewrite_status, the failures in a row). Any
    /// outcome clears the wait decided after the last failure: a new failure decides a longer one.
    let recordRewrite (ok: bool) =
        lastRewriteOk <- ok
        consecutiveFailures <- if ok then 0L else consecutiveFailures + 1L
        limitedUntilMs <- 0L

    /// Whether an automatic rewrite must wait now (see AofRewrite.limit).
    let rewriteLimited (now: int64) =
        match AofRewrite.limit consecutiveFailures limitedUntilMs now with
        | RewriteLimit.Free -> false
        | RewriteLimit.Waiting -> true
        | RewriteLimit.Starts(until, minutes) ->
            limitedUntilMs <- until
            log.Warning(sprintf "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in %d minutes" minutes)
            true

    let layoutOnDisk () : Result<AofLayout, string> =
        let dir = Path.Combine(settings.Dir, settings.AppendDirname)
        let manifestPath = Path.Combine(dir, Manifest.fileName settings.AppendFilename)

        let manifest =
            if File.Exists manifestPath then Manifest.parse (File.ReadAllBytes manifestPath) else Ok Manifest.empty

        manifest
        |> Result.map (fun m ->
            { Dir = dir
              AppendFilename = settings.AppendFilename
              Manifest = m })

    /// True while the dataset is being loaded: commands other than a few get -LOADING.
    member _.Loading = loading
    member _.Enabled = aof.IsSome
    member _.Log = aof

    /// Why writes are refused (-MISCONF), while a failed AOF write is unresolved.
    member _.WriteError =
        match aof with
        | Some l -> l.WriteError
        | None -> None

    /// Loads the AOF named by the manifest (or upgrades a legacy file, or starts fresh) and opens the incr
    /// file for appending; still loading until Loaded. Error is the fatal message: the server must not
    /// start.
    member _.LoadAtStart() : Result<Keyspace, string> =
        AofBase.cleanTemporaries (Path.Combine(settings.Dir, settings.AppendDirname))

        match AofLoad.load settings log with
        | Error e -> Error e
        | Ok loaded ->
            layout <- Some(AofRewrite.deleteHistory log loaded.Layout)
            openLog loaded.IncrPath
            rewriteBaseSize <- snd (sizes ())
            Ok loaded.Keyspace

    /// DEBUG LOADAOF: flush, then replay the files on disk into an empty dataset (loading until Loaded).
    /// Works with the log off too.
    member _.Reload(databases: int) : Result<Keyspace, string> =
        aof |> Option.iter (fun l -> l.Flush())
        loading <- true

        layoutOnDisk ()
        |> Result.bind (fun l -> AofLoad.replay settings log l (Keyspace.create databases))

    /// The loaded dataset is in place: commands stop getting -LOADING. The executor calls it under its lock
    /// once it holds the new keyspace, or a command could slip in between and see the old one (an empty
    /// dataset right after the start).
    member _.Loaded() : unit = loading <- false

    /// Appends one atomic unit of events; the commit point for Commit. 0 when the log is off.
    member _.Append(events: Event list) : int64 =
        match aof with
        | Some l -> l.Append events
        | None -> 0L

    /// The log an Execute must commit to after releasing the executor's lock (captured under it).
    member _.Current: AofLog option = aof

    /// The host loop's doorbell for every log, or null (see AofLog.RoundBell).
    member _.RoundBell
        with set (ring: Action) =
            roundBell <- ring
            aof |> Option.iter (fun l -> l.RoundBell <- ring)

    /// CONFIG SET reached us: turn the log on (a new base from `snapshot ()`, taken only then) or off, or
    /// change how it syncs. Error when the log could not be turned on: then nothing has changed (the
    /// settings included), the reason is in the log, and the caller refuses the CONFIG SET as Redis does.
    member _.Reconfigure(next: Settings, snapshot: unit -> Keyspace, now: int64) : Result<unit, string> =
        let before = settings

        if next.AppendOnly && aof.IsNone then
            lock manifestLock (fun () ->
                let turnedOn =
                    match layoutOnDisk () with
                    | Error e -> Error e
                    | Ok l ->
                        try
                            Ok(AofBase.switchTo log l (stampAt next now) (Rewrite.iterTo now (snapshot ())))
                        with e ->
                            Error(sprintf "Write error writing append only file on disk: %s" (FileSink.reasonOf e))

                match turnedOn with
                | Ok(switched, incr) ->
                    // Redis turns the log on with a rewrite, and counts it as one.
                    rewrites <- rewrites + 1L
                    recordRewrite true
                    lastRewriteSec <- (nowMs () - now) / 1000L
                    settings <- next
                    logGeneration <- logGeneration + 1
                    layout <- Some switched
                    openLog incr
                    // Automatic rewrites measure growth from this base, not from the files before it.
                    rewriteBaseSize <- snd (sizes ())
                    log.Notice "AOF enabled: the dataset was written as a new base"
                    Ok()
                | Error reason ->
                    log.Warning reason
                    log.Warning
                        "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error."
                    Error "Unable to turn on AOF. Check server logs.")
        else
            settings <- next

            if not next.AppendOnly && aof.IsSome then
                lock manifestLock (fun () -> logGeneration <- logGeneration + 1)
                closeLog ()
                log.Notice "AOF disabled"
            else
                match aof with
                | Some l when before.AppendFsync <> next.AppendFsync -> l.Policy <- policyOf next
                | _ -> ()

            Ok()

    member _.RewriteInProgress = rewriting

    /// BGREWRITEAOF: marks the rewrite started and hands it to a background thread, which takes the
    /// executor's lock only for two short moments: to take the snapshot and move the log to the new incr
    /// file (step 2), and to record the outcome. Every file operation that waits for the disk (creating the
    /// incr and persisting the manifest, writing the base, switching the manifest, deleting history) runs
    /// outside it: under the lock they stalled every client for 10-30 ms per rewrite. `snapshot` reads the
    /// keyspace; it is called under the lock.
    member this.StartRewrite(snapshot: unit -> Keyspace) : Result<unit, string> =
        if rewriting then
            Error "ERR Background append only file rewriting already in progress"
        else
            match aof, layout with
            | Some _, Some _ ->
                rewriting <- true
                rewriteStartMs <- nowMs ()
                // Redis counts the rewrites it starts, failed ones too.
                rewrites <- rewrites + 1L
                let generation = logGeneration
                log.Notice(sprintf "Background append only file rewriting started by pid %d" Environment.ProcessId)

                // Step 1, while the writes still go to the current incr file: the next one, named in the
                // manifest. None when the log was switched off or on meanwhile.
                let openIncr () =
                    lock manifestLock (fun () ->
                        match layout with
                        | Some lay when logGeneration = generation ->
                            let opened, incr = AofRewrite.openNextIncr log lay
                            layout <- Some opened
                            Some(opened, incr)
                        | _ -> None)

                // Step 2, under the executor's lock: the snapshot, and the log moved to the new incr at that
                // instant. The retired file's last sync and close happen away from the loop.
                let takeSnapshot (opened: AofLayout) (incr: AofFileInfo) =
                    let mutable taken = None
                    let mutable retired = None

                    runLocked (fun () ->
                        match aof with
                        | Some current when logGeneration = generation ->
                            current.WriteBuffered()
                            retired <- Some current
                            openLog (AofLayout.filePath opened incr.Name)
                            aof |> Option.iter (fun l -> l.SkipSync <- settings.NoAppendfsyncOnRewrite)
                            taken <- Some(snapshot (), nowMs ())
                        | _ -> ())

                    retired
                    |> Option.iter (fun l -> Threading.Tasks.Task.Run(fun () -> (l :> IDisposable).Dispose()) |> ignore)

                    taken

                // Steps 3 to 5: true once the new base is in force, false if the log was switched meanwhile.
                let writeAndSwitch (opened: AofLayout) (incr: AofFileInfo) (ks: Keyspace) (now: int64) =
                    // The event loop and the clients come first: the base is written with whatever CPU they leave.
                    let temp =
                        Background.run "aof-rewrite-base" (fun () ->
                            AofRewrite.writeBase opened (stampAt settings now) (Rewrite.iterTo now ks) settings.AofRewriteIncrementalFsync hooks.RewriteStep)

                    lock manifestLock (fun () ->
                        match layout with
                        | Some lay when logGeneration = generation ->
                            let newBase = AofRewrite.commitBase lay temp hooks.RewriteStep
                            log.Notice "Background AOF rewrite terminated with success"
                            layout <- Some(AofRewrite.switchTo log lay newBase incr.Seq hooks.RewriteStep)
                            true
                        | _ ->
                            File.Delete temp
                            false)

                let work () =
                    // Any error is a failed rewrite, never a crash of the whole server from a background thread.
                    let outcome =
                        try
                            match openIncr () with
                            | None -> Ok false
                            | Some(opened, incr) ->
                                match takeSnapshot opened incr with
                                | None -> Ok false
                                | Some(ks, now) ->
                                    try
                                        Ok(writeAndSwitch opened incr ks now)
                                    with e ->
                                        AofBase.cleanTemporaries opened.Dir
                                        Error(FileSink.reasonOf e)
                        with e ->
                            Error(FileSink.reasonOf e)

                    runLocked (fun () ->
                        try
                            match outcome with
                            | Ok true ->
                                recordRewrite true
                                rewriteBaseSize <- snd (sizes ())
                                log.Notice "Background AOF rewrite finished successfully"
                            | Ok false -> ()
                            | Error reason ->
                                log.Warning(sprintf "Background AOF rewrite terminated with error: %s" reason)
                                recordRewrite false
                        finally
                            lastRewriteSec <- (nowMs () - rewriteStartMs) / 1000L
                            rewriting <- false
                            aof |> Option.iter (fun l -> l.SkipSync <- false))

                Threading.Thread(work, IsBackground = true, Name = "aof-rewrite").Start()
                Ok()
            | _ ->
                // With the log off, Redis still writes a fresh base: the same projection, synchronously here.
                match layoutOnDisk () with
                | Error e -> Error("ERR " + e)
                | Ok l ->
                    rewrites <- rewrites + 1L
                    let started = nowMs ()

                    try
                        lock manifestLock (fun () ->
                            let switched, _ = AofBase.switchTo log l (stampAt settings started) (Rewrite.iterTo started (snapshot ()))
                            layout <- Some switched)

                        recordRewrite true
                        log.Notice "Background AOF rewrite finished successfully"
                    with e ->
                        // Reported as Redis reports its child's failure: the reply has said it started.
                        log.Warning(sprintf "Background AOF rewrite terminated with error: %s" (FileSink.reasonOf e))
                        recordRewrite false

                    lastRewriteSec <- (nowMs () - started) / 1000L
                    Ok()

    /// The timer's part: retry a failed or postponed write; start an automatic rewrite
    /// (`auto-aof-rewrite-percentage` growth over the size after the last rewrite, past the minimum size),
    /// unless failures in a row hold it back.
    member this.Cron(snapshot: unit -> Keyspace) : unit =
        aof |> Option.iter (fun l -> l.Cron())

        if aof.IsSome && not rewriting && not loading then
            let current = snd (sizes ())
            let now = nowMs ()

            if settings.AutoAofRewritePercentage > 0 && current >= settings.AutoAofRewriteMinSize then
                let baseSize = max 1L rewriteBaseSize
                let growth = (current * 100L / baseSize) - 100L

                if growth >= int64 settings.AutoAofRewritePercentage && not (rewriteLimited now) then
                    log.Notice(sprintf "Starting automatic rewriting of AOF on %d%% growth" growth)
                    this.StartRewrite snapshot |> ignore

    member _.Info: AofInfo =
        let sizes = sizes ()

        { Enabled = aof.IsSome
          Loading = loading
          LastWriteOk = (match aof with Some l -> l.WriteError.IsNone | None -> true)
          CurrentSize = snd sizes
          BaseSize = fst sizes
          BufferLength = (match aof with Some l -> l.BufferLength | None -> 0L)
          PendingFsync = (match aof with Some l -> l.SyncRunning | None -> false)
          DelayedFsync = (match aof with Some l -> l.DelayedFsyncs | None -> 0L)
          RewriteInProgress = rewriting
          // Nothing waits for its turn: there is no RDB child to wait behind, and turning the log on
          // writes its base at once.
          RewriteScheduled = false
          LastRewriteTimeSec = lastRewriteSec
          CurrentRewriteTimeSec = (if rewriting then (nowMs () - rewriteStartMs) / 1000L else -1L)
          LastRewriteOk = lastRewriteOk
          Rewrites = rewrites
          ConsecutiveRewriteFailures = consecutiveFailures }

    /// Flushes and closes the log (clean shutdown). A rewrite still running is abandoned, as Redis kills its
    /// rewrite child on shutdown: it will not switch the manifest of a stopped server.
    member _.Close() : unit =
        lock manifestLock (fun () -> logGeneration <- logGeneration + 1)
        closeLog ()
