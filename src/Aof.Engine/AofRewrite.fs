namespace Aof.Engine

// A background rewrite, in the order Redis 7 does it, so that a crash at any step leaves a complete
// dataset on disk:
//
// 1. Open the next incr file and name it in the manifest (persisted) before any write goes there; the
//    writes that follow the snapshot land in it. Nothing else changes: old base and incrs stay in force.
// 2. Take the snapshot: the immutable keyspace itself, an O(1) reference. No fork, no copy-on-write, no
//    rewrite buffer: the executor keeps serving while a background thread reads it.
// 3. Write the projection (Rewrite.iterTo) to a temporary file, fsync it, rename it to the next base name.
//    A crash here leaves a temporary (deleted on the next start) or an unnamed base (overwritten by the next
//    rewrite); the manifest still names the old files plus the new incr.
// 4. Switch the manifest: the new base, then the incrs from step 1 on; the older files are listed as
//    history. A crash after this loads the new pair; history is deleted on the next start.
// 5. Delete the history files and persist the manifest without them.

open System.IO
open Aof.Core

/// Whether an automatic rewrite may start, once rewrites have been failing.
[<RequireQualifiedAccess>]
type RewriteLimit =
    | Free
    | Waiting
    /// A wait starts now: until `untilMs`, `minutes` long (Redis logs it).
    | Starts of untilMs: int64 * minutes: int64

module AofRewrite =
    /// Redis's brake on a rewrite that keeps failing (each failed attempt leaves another incr file in the
    /// manifest): from the third failure in a row, an automatic rewrite waits 1 minute, after the next
    /// failure 2, then 4 and so on up to an hour. `limitedUntilMs` is 0 until a wait is decided after the
    /// latest failure. BGREWRITEAOF is never held back.
    let limit (consecutiveFailures: int64) (limitedUntilMs: int64) (nowMs: int64) : RewriteLimit =
        if consecutiveFailures < 3L then
            RewriteLimit.Free
        elif limitedUntilMs = 0L then
            let minutes = min 60L (1L <<< int (min 6L (consecutiveFailures - 3L)))
            RewriteLimit.Starts(nowMs + minutes * 60_000L, minutes)
        elif nowMs < limitedUntilMs then
            RewriteLimit.Waiting
        else
            RewriteLimit.Free

    /// Step 1: the next incr file, created empty and named in a persisted manifest.
    let openNextIncr (log: Log) (layout: AofLayout) : AofLayout * AofFileInfo =
        let m = layout.Manifest
        let seq = 1L + (m.Incrs |> List.fold (fun s f -> max s f.Seq) 0L)
        let incr = { Name = Manifest.incrFileName layout.AppendFilename seq; Seq = seq; Type = AofFileType.Incr }
        File.WriteAllBytes(AofLayout.filePath layout incr.Name, [||])
        let next = { layout with Manifest = { m with Incrs = m.Incrs @ [ incr ] } }
        AofLayout.persist next
        log.Notice(sprintf "Creating AOF incr file %s on background rewrite" incr.Name)
        next, incr

    /// Step 3, first half: the new base, written from the snapshot's events to a temporary of the
    /// rewrite's own, and synced; `step` is the test hook. Returns the temporary's path.
    let writeBase (layout: AofLayout) (stamp: int64 voption) (produce: IProjection -> unit) (incrementalSync: bool) (step: string -> unit) : string =
        let temp = AofBase.tempPath layout.Dir "bg-"
        AofBase.writeTemp temp stamp produce incrementalSync step
        temp

    /// Step 3, second half: the temporary renamed to the next base name. Only while the rewrite is still
    /// wanted: a base put in force meanwhile (the log switched off and on) may bear that same name.
    let commitBase (layout: AofLayout) (temp: string) (step: string -> unit) : AofFileInfo =
        let seq = 1L + (layout.Manifest.Base |> Option.map (fun b -> b.Seq) |> Option.defaultValue 0L)
        let info = { Name = Manifest.baseFileName layout.AppendFilename seq; Seq = seq; Type = AofFileType.Base }
        AofBase.commit temp (AofLayout.filePath layout info.Name) step
        info

    /// History files are deleted and dropped from the manifest: after a switch, and on start for what a crash
    /// left behind.
    let deleteHistory (log: Log) (layout: AofLayout) : AofLayout =
        if layout.Manifest.History.IsEmpty then
            layout
        else
            for f in layout.Manifest.History do
                let p = AofLayout.filePath layout f.Name

                if File.Exists p then
                    log.Notice(sprintf "Removing the history file %s in the background" f.Name)
                    File.Delete p

            let clean = { layout with Manifest = { layout.Manifest with History = [] } }
            AofLayout.persist clean
            clean

    /// Steps 4 and 5: the manifest names the new base and the incrs from `firstIncr` on; the rest is history,
    /// deleted once the switch is durable.
    let switchTo (log: Log) (layout: AofLayout) (newBase: AofFileInfo) (firstIncr: int64) (step: string -> unit) : AofLayout =
        let m = layout.Manifest
        let kept, older = m.Incrs |> List.partition (fun f -> f.Seq >= firstIncr)
        let history = m.History @ (Option.toList m.Base @ older |> List.map (fun f -> { f with Type = AofFileType.History }))
        let switched = { layout with Manifest = { Base = Some newBase; History = history; Incrs = kept } }
        AofLayout.persist switched
        step "manifest-switched"
        deleteHistory log switched

