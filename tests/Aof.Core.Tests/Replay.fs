/// What the replay properties share: events through their AOF argument form and through the AOF file
/// format, and the part of a dataset a client could still read.
module Aof.Core.Tests.Replay

open System
open System.Buffers
open Aof.Core

/// Each event rendered as the command an AOF stores and read back, as a loader would.
let throughArgs (events: Event list) : Event list =
    events
    |> List.map (fun e ->
        match Event.ofArgs e.Db (Event.toArgs e.Op) with
        | Ok e2 -> e2
        | Error msg -> failwith msg)

/// The events as AOF bytes, one unit each (SELECT where the database changes).
let serialize (events: Event seq) : byte[] =
    let out = ArrayBufferWriter<byte>()
    let mutable db = -1

    for e in events do
        db <- AofFormat.writeUnit out db [ e ]

    out.WrittenSpan.ToArray()

/// AOF bytes back into events, tracking SELECT as a loader does.
let parse (bytes: byte[]) : Event list =
    let mutable pos = 0
    let mutable db = 0
    let events = ResizeArray()
    let mutable go = true

    while go do
        let mutable consumed = 0
        let mutable args: byte[][] = null
        let mutable error: string = null

        match AofReader.TryRead(ReadOnlySpan(bytes, pos, bytes.Length - pos), &consumed, &args, &error) with
        | AofRead.Command ->
            pos <- pos + consumed

            if Bytes.eqLower "select" args[0] then db <- int (Num.tryParseInt64 args[1]).Value
            else
                match Event.ofArgs db args with
                | Ok e -> events.Add e
                | Error m -> failwith m
        | _ -> go <- false

    List.ofSeq events

/// What a client could still read at `now`: keys already expired are gone for every purpose.
let alive (now: int64) (ks: Keyspace) =
    Keyspace.toMap ks
    |> Map.map (fun _ keys -> keys |> Map.filter (fun _ (_, at) -> at = Expiry.none || at > now))
    |> Map.filter (fun _ keys -> not keys.IsEmpty)
