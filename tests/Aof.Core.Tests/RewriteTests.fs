module Aof.Core.Tests.RewriteTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open Aof.Core
open Aof.Core.Tests.DecideTests
open Aof.Core.Tests.Replay

let private config = Config.QuickThrowOnFailure.WithMaxTest(2000)

let private check prop =
    Check.One(config, Prop.forAll (Arb.fromGen genSession) prop)

[<Fact>]
let ``replay of rewrite equals replay`` () =
    check (fun steps ->
        let run = runReal steps
        let rebuilt = Evolve.replay (Keyspace.create databases) (Rewrite.project run.Now run.Final)
        alive run.Now rebuilt = alive run.Now run.Final)

[<Fact>]
let ``a rewrite leaves out keys already expired at the snapshot's time`` () =
    check (fun steps ->
        let run = runReal steps

        Rewrite.project run.Now run.Final
        |> Seq.forall (fun e ->
            match e.Op with
            | Op.PExpireAt(_, at) -> at > run.Now
            | _ -> true))

[<Fact>]
let ``rewrite is idempotent through the file format`` () =
    check (fun steps ->
        let run = runReal steps
        let first = Evolve.replay (Keyspace.create databases) (parse (serialize (Rewrite.project run.Now run.Final)))
        let second = Evolve.replay (Keyspace.create databases) (parse (serialize (Rewrite.project run.Now first)))
        Keyspace.toMap first = Keyspace.toMap second && alive run.Now first = alive run.Now run.Final)

[<Fact>]
let ``a rewritten base cut at any command boundary yields a subset of the original`` () =
    check (fun steps ->
        let run = runReal steps
        let original = alive run.Now run.Final
        let events = Rewrite.project run.Now run.Final |> List.ofSeq

        [ 0 .. events.Length ]
        |> List.forall (fun cut ->
            let partial = alive run.Now (Evolve.replay (Keyspace.create databases) (List.truncate cut events))

            partial
            |> Map.forall (fun db keys ->
                keys
                |> Map.forall (fun k (v, at) ->
                    match original |> Map.tryFind db |> Option.bind (Map.tryFind k) with
                    // A cut between a SET and its PEXPIREAT leaves the value without its TTL yet: the value
                    // is the original's, and no TTL is invented.
                    | Some(v0, at0) -> v = v0 && (at = at0 || at = Expiry.none)
                    | None -> false))))

[<Fact>]
let ``the rewrite writes one SET per string and a PEXPIREAT only for keys with a TTL`` () =
    check (fun steps ->
        let run = runReal steps
        let events = Rewrite.project run.Now run.Final |> List.ofSeq
        let live = alive run.Now run.Final |> Map.toList |> List.sumBy (fun (_, keys) -> keys.Count)
        let withTtl = alive run.Now run.Final |> Map.toList |> List.sumBy (fun (_, keys) -> keys |> Map.filter (fun _ (_, at) -> at <> Expiry.none) |> Map.count)
        let sets = events |> List.filter (fun e -> match e.Op with Op.Set _ -> true | _ -> false) |> List.length
        let expires = events |> List.filter (fun e -> match e.Op with Op.PExpireAt _ -> true | _ -> false) |> List.length
        sets = live && expires = withTtl && events.Length = sets + expires)

[<Fact>]
let ``bulk replay of a rewritten base equals replay of it`` () =
    check (fun steps ->
        let run = runReal steps
        let events = Rewrite.project run.Now run.Final |> List.ofSeq
        Keyspace.toMap (Evolve.replayBulk (Keyspace.create databases) events) = Keyspace.toMap (Evolve.replay (Keyspace.create databases) events))
