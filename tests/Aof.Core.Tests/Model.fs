/// A deliberately plain, mutable reference model of Redis string/key semantics, written independently
/// of Decide: the property tests hold the real implementation to it.
module Aof.Core.Tests.Model

open System
open System.Collections.Generic
open Aof.Core

type MEntry = { V: byte[]; Exp: int64 }

type Model(databases: int) =
    let dbs = Array.init databases (fun _ -> Dictionary<string, MEntry>())
    let key (b: byte[]) = Bytes.toString b
    member val Db = 0 with get, set
    member val Now = 0L with get, set
    member _.Dbs = dbs

    member m.Purge(db: int, k: string) =
        match dbs[db].TryGetValue k with
        | true, e when e.Exp >= 0L && e.Exp <= m.Now -> dbs[db].Remove k |> ignore
        | _ -> ()

    member m.Find(k: byte[]) : MEntry option =
        m.Purge(m.Db, key k)

        match dbs[m.Db].TryGetValue(key k) with
        | true, e -> Some e
        | _ -> None

    member m.Put(k: byte[], v: byte[], exp: int64) = dbs[m.Db][key k] <- { V = v; Exp = exp }
    member m.Remove(k: byte[]) = dbs[m.Db].Remove(key k)

    member _.ToMap() : Map<int, Map<string, Plain * int64>> =
        dbs
        |> Array.mapi (fun i d -> i, d |> Seq.map (fun kv -> kv.Key, (Plain.Str kv.Value.V, kv.Value.Exp)) |> Map.ofSeq)
        |> Array.filter (fun (_, m) -> not m.IsEmpty)
        |> Map.ofArray

let private bulk (b: byte[]) = Reply.Bulk b
let private int' (n: int64) = Reply.Integer n
let private parseI (b: byte[]) = Int64.Parse(Bytes.toString b)
let private isInt (b: byte[]) = (Num.tryParseInt64 b).IsSome
let private s (b: byte[]) = (Bytes.toString b).ToUpperInvariant()

/// Runs one command (already known to be well-formed) against the model.
let run (m: Model) (a: byte[][]) : Reply =
    let now = m.Now

    // Lazy expiry reclaims every key the command names before it runs (only DBSIZE can tell when).
    match Command.parse a with
    | Ok(Request.Data cmd) ->
        for k in Command.keys cmd do
            m.Purge(m.Db, Bytes.toString k)
    | _ -> ()

    match s a[0] with
    | "GET" ->
        match m.Find a[1] with
        | Some e -> bulk e.V
        | None -> Reply.Nil
    | "SET" ->
        let opts = a[3..] |> Array.map s
        let has o = Array.contains o opts
        let existing = m.Find a[1]
        let old = match existing with Some e -> bulk e.V | None -> Reply.Nil
        let go = (not (has "NX") || existing.IsNone) && (not (has "XX") || existing.IsSome)

        if go then
            let pxAt = Array.tryFindIndex ((=) "PX") opts |> Option.map (fun i -> now + parseI a[3 + i + 1])
            let exp =
                match pxAt with
                | Some t -> t
                | None when has "KEEPTTL" -> (match existing with Some e -> e.Exp | None -> -1L)
                | None -> -1L

            m.Put(a[1], a[2], exp)

        if has "GET" then old elif go then Reply.ok else Reply.Nil
    | "SETNX" ->
        if (m.Find a[1]).IsSome then Reply.zero
        else
            m.Put(a[1], a[2], -1L)
            Reply.one
    | "PSETEX" ->
        m.Find a[1] |> ignore
        m.Put(a[1], a[3], now + parseI a[2])
        Reply.ok
    | "MGET" -> Reply.Array [| for k in a[1..] -> match m.Find k with Some e -> bulk e.V | None -> Reply.Nil |]
    | "MSET" ->
        for i in 1..2 .. a.Length - 1 do
            m.Put(a[i], a[i + 1], -1L)

        Reply.ok
    | "MSETNX" ->
        if [ for i in 1..2 .. a.Length - 1 -> a[i] ] |> List.exists (fun k -> (m.Find k).IsSome) then Reply.zero
        else
            for i in 1..2 .. a.Length - 1 do
                m.Put(a[i], a[i + 1], -1L)

            Reply.one
    | "GETSET" ->
        let old = match m.Find a[1] with Some e -> bulk e.V | None -> Reply.Nil
        m.Put(a[1], a[2], -1L)
        old
    | "GETDEL" ->
        match m.Find a[1] with
        | Some e ->
            m.Remove a[1] |> ignore
            bulk e.V
        | None -> Reply.Nil
    | "GETEX" ->
        match m.Find a[1] with
        | None -> Reply.Nil
        | Some e ->
            if a.Length = 3 then m.Put(a[1], e.V, -1L)
            elif a.Length = 4 then m.Put(a[1], e.V, now + parseI a[3])
            bulk e.V
    | "APPEND" ->
        let v = match m.Find a[1] with Some e -> Array.append e.V a[2] | None -> a[2]
        let exp = match m.Find a[1] with Some e -> e.Exp | None -> -1L
        m.Put(a[1], v, exp)
        int' (int64 v.Length)
    | "STRLEN" -> int' (match m.Find a[1] with Some e -> int64 e.V.Length | None -> 0L)
    | "INCRBY"
    | "DECR" ->
        let by = if s a[0] = "DECR" then -1L else parseI a[2]

        match m.Find a[1] with
        | Some e when not (isInt e.V) -> Reply.notInteger
        | found ->
            let cur = match found with Some e -> parseI e.V | None -> 0L
            let exp = match found with Some e -> e.Exp | None -> -1L
            m.Put(a[1], Bytes.ofString (string (cur + by)), exp)
            int' (cur + by)
    | "GETRANGE" ->
        match m.Find a[1] with
        | None -> bulk [||]
        | Some e ->
            let len = int64 e.V.Length
            let st, en = parseI a[2], parseI a[3]

            if st < 0L && en < 0L && st > en then bulk [||]
            else
                let st = if st < 0L then max 0L (len + st) else st
                let en = if en < 0L then max 0L (len + en) else en
                let en = min en (len - 1L)
                if len = 0L || st > en then bulk [||] else bulk e.V[int st .. int en]
    | "SETRANGE" ->
        let off = int (parseI a[2])
        let found = m.Find a[1]
        let cur = match found with Some e -> e.V | None -> [||]

        if a[3].Length = 0 then int' (int64 cur.Length)
        else
            let v = Array.zeroCreate (max cur.Length (off + a[3].Length))
            Array.blit cur 0 v 0 cur.Length
            Array.blit a[3] 0 v off a[3].Length
            m.Put(a[1], v, (match found with Some e -> e.Exp | None -> -1L))
            int' (int64 v.Length)
    | "DEL" ->
        let mutable n = 0L

        for k in a[1..] do
            if (m.Find k).IsSome then
                m.Remove k |> ignore
                n <- n + 1L

        int' n
    | "EXISTS" -> int' (a[1..] |> Array.sumBy (fun k -> if (m.Find k).IsSome then 1L else 0L))
    | "TYPE" -> Reply.Simple(if (m.Find a[1]).IsSome then "string" else "none")
    | "RENAME"
    | "RENAMENX" ->
        let nx = s a[0] = "RENAMENX"

        match m.Find a[1] with
        | None -> Reply.noSuchKey
        | Some _ when Bytes.equal a[1] a[2] -> if nx then Reply.zero else Reply.ok
        | Some _ when nx && (m.Find a[2]).IsSome -> Reply.zero
        | Some e ->
            m.Find a[2] |> ignore
            m.Remove a[1] |> ignore
            m.Put(a[2], e.V, e.Exp)
            if nx then Reply.one else Reply.ok
    | "MOVE" ->
        let target = int (parseI a[2])

        if target = m.Db then Reply.Error "ERR source and destination objects are the same"
        else
            match m.Find a[1] with
            | None -> Reply.zero
            | Some e ->
                m.Purge(target, Bytes.toString a[1])

                if m.Dbs[target].ContainsKey(Bytes.toString a[1]) then Reply.zero
                else
                    m.Remove a[1] |> ignore
                    m.Dbs[target][Bytes.toString a[1]] <- e
                    Reply.one
    | "COPY" ->
        let target = if a.Length >= 5 then int (parseI a[4]) else m.Db
        let replace = a |> Array.exists (fun x -> s x = "REPLACE")

        if target = m.Db && Bytes.equal a[1] a[2] then Reply.Error "ERR source and destination objects are the same"
        else
            match m.Find a[1] with
            | None -> Reply.zero
            | Some e ->
                m.Purge(target, Bytes.toString a[2])

                if not replace && m.Dbs[target].ContainsKey(Bytes.toString a[2]) then Reply.zero
                else
                    m.Dbs[target][Bytes.toString a[2]] <- e
                    Reply.one
    | "PEXPIRE"
    | "PEXPIREAT" ->
        let at = if s a[0] = "PEXPIRE" then now + parseI a[2] else parseI a[2]
        let flag = if a.Length > 3 then s a[3] else ""

        match m.Find a[1] with
        | None -> Reply.zero
        | Some e ->
            let has = e.Exp >= 0L

            let ok =
                match flag with
                | "NX" -> not has
                | "XX" -> has
                | "GT" -> has && at > e.Exp
                | "LT" -> not has || at < e.Exp
                | _ -> true

            if not ok then Reply.zero
            elif at <= now then
                m.Remove a[1] |> ignore
                Reply.one
            else
                m.Put(a[1], e.V, at)
                Reply.one
    | "PTTL" ->
        match m.Find a[1] with
        | None -> int' -2L
        | Some e when e.Exp < 0L -> int' -1L
        | Some e -> int' (e.Exp - now)
    | "PERSIST" ->
        match m.Find a[1] with
        | Some e when e.Exp >= 0L ->
            m.Put(a[1], e.V, -1L)
            Reply.one
        | _ -> Reply.zero
    | "DBSIZE" -> int' (int64 m.Dbs[m.Db].Count)
    | "FLUSHDB" ->
        m.Dbs[m.Db].Clear()
        Reply.ok
    | "SWAPDB" ->
        let x, y = int (parseI a[1]), int (parseI a[2])
        let tmp = Dictionary(m.Dbs[x])
        m.Dbs[x].Clear()

        for kv in m.Dbs[y] do
            m.Dbs[x][kv.Key] <- kv.Value

        m.Dbs[y].Clear()

        for kv in tmp do
            m.Dbs[y][kv.Key] <- kv.Value

        Reply.ok
    | other -> failwithf "model does not know %s" other
