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
      DelayedFsync: int64 }

[<Sealed>]
type Persistence(initial: Settings, log: Log, hooks: EngineHooks) =
    let mutable settings = initial
    let mutable aof: AofLog option = None
    let mutable layout: AofLayout option = None
    let mutable loading = initial.AppendOnly

    let policyOf (s: Settings) =
        match s.AppendFsync with
        | AppendFsync.Always -> SyncPolicy.Always
        | AppendFsync.EverySec -> SyncPolicy.EverySec
        | AppendFsync.No -> SyncPolicy.No

    let openLog (path: string) =
        aof <- Some(new AofLog(hooks.OpenSink path, policyOf settings, settings.AofTimestampEnabled, log, hooks.Exit))

    let closeLog () =
        match aof with
        | Some l ->
            (l :> IDisposable).Dispose()
            aof <- None
        | None -> ()

    let fileSize (l: AofLayout) (f: AofFileInfo) =
        let p = AofLayout.filePath l f.Name
        if File.Exists p then (FileInfo p).Length else 0L

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
    /// file for appending. Error is the fatal message: the server must not start.
    member _.LoadAtStart() : Result<Keyspace, string> =
        AofBase.cleanTemporaries (Path.Combine(settings.Dir, settings.AppendDirname))

        match AofLoad.load settings log with
        | Error e -> Error e
        | Ok loaded ->
            layout <- Some loaded.Layout
            openLog loaded.IncrPath
            loading <- false
            Ok loaded.Keyspace

    /// DEBUG LOADAOF: flush, then replay the files on disk into an empty dataset. Works with the log off too.
    member _.Reload(databases: int) : Result<Keyspace, string> =
        aof |> Option.iter (fun l -> l.Flush())
        loading <- true

        try
            layoutOnDisk ()
            |> Result.bind (fun l -> AofLoad.replay settings log l (Keyspace.create databases))
        finally
            loading <- false

    /// Appends one atomic unit of events; the commit point for Commit. 0 when the log is off.
    member _.Append(events: Event list) : int64 =
        match aof with
        | Some l -> l.Append events
        | None -> 0L

    /// The log an Execute must commit to after releasing the executor's lock (captured under it).
    member _.Current: AofLog option = aof

    /// CONFIG SET reached us: turn the log on (new base from `snapshot`) or off, or change how it syncs.
    member _.Reconfigure(next: Settings, snapshot: Keyspace, now: int64) : unit =
        let before = settings
        settings <- next

        if next.AppendOnly && aof.IsNone then
            match layoutOnDisk () with
            | Error e -> log.Warning(sprintf "Can't turn the AOF on: %s" e)
            | Ok l ->
                let switched, incr = AofBase.switchTo log l (Rewrite.project now snapshot)
                layout <- Some switched
                openLog incr
                log.Notice "AOF enabled: the dataset was written as a new base"
        elif not next.AppendOnly && aof.IsSome then
            closeLog ()
            log.Notice "AOF disabled"
        else
            match aof with
            | Some l when before.AppendFsync <> next.AppendFsync -> l.Policy <- policyOf next
            | _ -> ()

    /// The timer's part: retry a failed or postponed write.
    member _.Cron() : unit = aof |> Option.iter (fun l -> l.Cron())

    member _.Info: AofInfo =
        let sizes =
            match layout with
            | Some l when aof.IsSome ->
                let baseSize = l.Manifest.Base |> Option.map (fileSize l) |> Option.defaultValue 0L
                let incrs = l.Manifest.Incrs |> List.sumBy (fileSize l)
                baseSize, baseSize + incrs
            | _ -> 0L, 0L

        { Enabled = aof.IsSome
          Loading = loading
          LastWriteOk = (match aof with Some l -> l.WriteError.IsNone | None -> true)
          CurrentSize = snd sizes
          BaseSize = fst sizes
          BufferLength = (match aof with Some l -> l.BufferLength | None -> 0L)
          PendingFsync = (match aof with Some l -> l.SyncRunning | None -> false)
          DelayedFsync = (match aof with Some l -> l.DelayedFsyncs | None -> 0L) }

    /// Flushes and closes the log (clean shutdown).
    member _.Close() : unit = closeLog ()
