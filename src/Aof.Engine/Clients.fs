/// What the engine answers about connections: CLIENT LIST lines, CLIENT KILL's filters, HELLO, COMMAND INFO.
/// Nothing here touches the dataset.
module Aof.Engine.Clients

open System
open Aof.Core

/// One CLIENT LIST line, with Redis's field names.
let line (s: Session) (nowMs: int64) =
    sprintf
        "id=%d addr=%s laddr=%s fd=0 name=%s age=%d idle=%d flags=%s db=%d sub=0 psub=0 ssub=0 multi=%d qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=default redir=-1 resp=2"
        s.Id
        s.Addr
        s.LAddr
        (Bytes.toString s.Name)
        ((nowMs - s.CreatedMs) / 1000L)
        ((nowMs - s.LastInteractionMs) / 1000L)
        (if s.InMulti then "x" elif not (isNull s.Blocked) then "b" else "N")
        s.Db
        (if s.InMulti then s.Queue.Count else -1)
        s.LastCommand

/// Redis refuses client names with spaces, newlines or other special characters.
let validName (name: byte[]) =
    name |> Array.forall (fun c -> c > 32uy && c < 127uy)

/// CLIENT KILL with filters (ID ADDR LADDR USER TYPE SKIPME MAXAGE): how many were killed, or the error.
let kill (sessions: Session seq) (me: Session) (filters: (string * string) list) : Result<int, Reply> =
    let mutable skipMe = true
    let mutable bad = ValueNone
    let mutable preds: (Session -> bool) list = []

    for (k, v) in filters do
        match k with
        | "id" ->
            match Int64.TryParse v with
            | true, id when id > 0L -> preds <- (fun s -> s.Id = id) :: preds
            | _ -> bad <- ValueSome(Reply.Error "ERR client-id should be greater than 0")
        | "addr" -> preds <- (fun s -> s.Addr = v) :: preds
        | "laddr" -> preds <- (fun s -> s.LAddr = v) :: preds
        | "user" -> preds <- (fun _ -> v = "default") :: preds
        | "type" ->
            match v.ToLowerInvariant() with
            | "normal" -> ()
            | "master"
            | "replica"
            | "slave"
            | "pubsub" -> preds <- (fun _ -> false) :: preds
            | _ -> bad <- ValueSome(Reply.Error(sprintf "ERR Unknown client type '%s'" v))
        | "skipme" ->
            match v.ToLowerInvariant() with
            | "yes" -> skipMe <- true
            | "no" -> skipMe <- false
            | _ -> bad <- ValueSome Reply.syntaxError
        | "maxage" ->
            match Int64.TryParse v with
            | true, age ->
                let now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()
                preds <- (fun s -> (now - s.CreatedMs) / 1000L >= age) :: preds
            | _ -> bad <- ValueSome Reply.syntaxError
        | _ -> bad <- ValueSome Reply.syntaxError

    match bad with
    | ValueSome e -> Error e
    | ValueNone ->
        let victims =
            sessions
            |> Seq.filter (fun s -> not (skipMe && s.Id = me.Id) && preds |> List.forall (fun p -> p s))
            |> Seq.toList

        for s in victims do
            s.Kill()

        Ok victims.Length

/// A COMMAND INFO entry in Redis 7's shape (flags, key positions and the rest left empty).
let commandInfo (name: string) (arity: int) =
    Reply.Array
        [| Reply.bulkString name
           Reply.Integer(int64 arity)
           Reply.emptyArray
           Reply.zero
           Reply.zero
           Reply.zero
           Reply.emptyArray
           Reply.emptyArray
           Reply.emptyArray
           Reply.emptyArray |]

/// HELLO: protocol 2 only; AUTH and SETNAME as Redis takes them.
let hello (requirePass: string option) (session: Session) (version: int voption) (auth: (string * string) voption) (name: byte[] voption) : Reply =
    match version with
    // RESP3 is not implemented: only HELLO 2 (or no version) is accepted.
    | ValueSome v when v <> 2 -> Reply.Error "NOPROTO unsupported protocol version"
    | _ ->
        let authOk =
            match auth, requirePass with
            | ValueNone, _ -> Ok()
            | ValueSome(user, pass), Some required when user = "default" && pass = required -> Ok()
            | ValueSome(user, _), None when user = "default" -> Ok()
            | ValueSome _, _ -> Error(Reply.Error "WRONGPASS invalid username-password pair or user is disabled.")

        match authOk with
        | Error e -> e
        | Ok() when auth.IsNone && requirePass.IsSome && not session.Authenticated ->
            Reply.Error
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
        | Ok() ->
            if auth.IsSome then session.Authenticated <- true

            match name with
            | ValueSome n when not (validName n) -> Reply.Error "ERR Client names cannot contain spaces, newlines or special characters."
            | _ ->
                name |> ValueOption.iter (fun n -> session.Name <- n)

                Reply.Array
                    [| Reply.bulkString "server"; Reply.bulkString "redis"
                       Reply.bulkString "version"; Reply.bulkString Info.version
                       Reply.bulkString "proto"; Reply.Integer 2L
                       Reply.bulkString "id"; Reply.Integer session.Id
                       Reply.bulkString "mode"; Reply.bulkString "standalone"
                       Reply.bulkString "role"; Reply.bulkString "master"
                       Reply.bulkString "modules"; Reply.emptyArray |]
