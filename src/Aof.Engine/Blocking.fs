namespace Aof.Engine

// Clients blocked by BLPOP, BZPOPMIN and the like. Not thread-safe: the executor touches it under its lock.
// Costs nothing while nobody is blocked: writes only look for waiters when there are some.

open System.Collections.Generic
open Aof.Core

/// Who waits on which key, in the order they blocked, and which keys were written since they were last
/// looked at.
[<Sealed>]
type BlockedClients() =
    // By `waitKey`, each list in arrival order; `order` has every blocked client in arrival order.
    let waiting = Dictionary<string, List<Session>>()
    let order = List<Session>()
    let ready = List<string>()
    // An op that may have touched any key (FLUSHALL, SWAPDB, MOVE, COPY): everyone is looked at.
    let mutable readyAll = false

    static let waitKey (db: int) (key: byte[]) = string db + "\n" + Bytes.toString key

    member _.Count = order.Count

    /// Whether a write since the last look may let someone be served.
    member _.AnyReady = ready.Count > 0 || readyAll

    /// Remembers the keys these events wrote (only those someone waits on).
    member _.NoteWritten(events: Event list) =
        if order.Count > 0 then
            for e in events do
                match Event.keys e.Op with
                | ValueSome keys ->
                    for k in keys do
                        let wk = waitKey e.Db k
                        if waiting.ContainsKey wk then ready.Add wk
                | ValueNone -> readyAll <- true

    /// Registers a client on the distinct keys of its blocking command.
    member _.Park(session: Session, b: Blocked) =
        session.Blocked <- b
        order.Add session

        for k in b.Keys do
            let wk = waitKey b.Db k

            match waiting.TryGetValue wk with
            | true, l -> l.Add session
            | _ -> waiting[wk] <- List<Session>([ session ])

    /// The client no longer waits (served, timed out or gone).
    member _.Unregister(session: Session, b: Blocked) =
        if b.Waiting then
            b.Waiting <- false

            for k in b.Keys do
                let wk = waitKey b.Db k

                match waiting.TryGetValue wk with
                | true, l ->
                    l.Remove session |> ignore
                    if l.Count = 0 then waiting.Remove wk |> ignore
                | _ -> ()

            order.Remove session |> ignore

            if not (isNull b.Timer) then
                b.Timer.Dispose()
                b.Timer <- null

    /// The clients that may be servable now, each once, in the order they blocked on the written keys; the
    /// written keys are forgotten.
    member _.TakeCandidates() : Session[] =
        let candidates =
            if readyAll then
                order.ToArray()
            else
                let seen = HashSet<Session>(HashIdentity.Reference)

                [| for wk in ready do
                       match waiting.TryGetValue wk with
                       | true, l ->
                           for s in l do
                               if seen.Add s then yield s
                       | _ -> () |]

        ready.Clear()
        readyAll <- false
        candidates

    /// Forgets written keys nobody can be served from.
    member _.ClearReady() =
        ready.Clear()
        readyAll <- false
