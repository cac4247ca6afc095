namespace Aof.Engine

// PLACEHOLDER: the executor replaces this stub, keeping the API the C# host uses.

open System
open System.Buffers
open System.Collections.Generic
open System.Threading
open Aof.Core

/// What the host needs to know to listen and to police connections.
type HostSettings =
    { Bind: string[]
      Port: int
      MaxClients: int
      /// Bytes a client may have buffered unparsed before it is closed (`client-query-buffer-limit`).
      ClientQueryBufferLimit: int64
      Resp: RespLimits }

/// One client connection's state inside the engine (db, MULTI queue, name, auth).
[<Sealed; AllowNullLiteral>]
type Session(id: int64) =
    let killed = new CancellationTokenSource()
    member _.Id = id
    /// Set after QUIT, a protocol error, CLIENT KILL or shutdown: the host flushes what was written and closes.
    member val IsClosing = false with get, set
    /// Cancelled when the engine wants this connection gone now (CLIENT KILL, timeout, shutdown).
    member _.Killed = killed.Token
    member internal _.Kill() = killed.Cancel()

/// The engine: owns the dataset and executes every client's commands one batch at a time.
[<Sealed; AllowNullLiteral>]
type Server private (settings: HostSettings) =
    let mutable nextId = 0L
    let shutdown = new CancellationTokenSource()

    /// Parses `redis-server`-style arguments (`[configfile] [--directive value ...]`), logs the start-up
    /// lines and loads data. Error carries the message to print and the process exit code.
    static member Start(args: string[]) : Result<Server, struct (string * int)> =
        ignore args

        Ok(
            Server(
                { Bind = [| "127.0.0.1" |]
                  Port = 6379
                  MaxClients = 10000
                  ClientQueryBufferLimit = 1024L * 1024L * 1024L
                  Resp = RespLimits.Default }
            )
        )

    member _.Settings = settings

    /// Called by the host once it listens: logs `Ready to accept connections`.
    member _.Ready() : unit = ()

    /// A new connection. ValueNone when `maxclients` is reached: the host then writes
    /// `-ERR max number of clients reached` and closes.
    member _.Connect(remoteEndPoint: string, localEndPoint: string) : Session voption =
        ignore remoteEndPoint
        ignore localEndPoint
        ValueSome(Session(Interlocked.Increment &nextId))

    /// Executes one read's complete commands in order and writes their replies to `output`.
    member _.Execute(session: Session, commands: List<byte[][]>, output: IBufferWriter<byte>) : unit =
        ignore session

        for _ in commands do
            let bytes = "+PONG\r\n"B
            bytes.CopyTo(output.GetSpan(bytes.Length))
            output.Advance bytes.Length

    /// The client broke the protocol: writes `-ERR <message>`, logs it and marks the session closing.
    member _.ProtocolError(session: Session, message: string, output: IBufferWriter<byte>) : unit =
        ignore message
        ignore output
        session.IsClosing <- true

    /// The connection is gone (either side closed it).
    member _.Disconnect(session: Session) : unit = ignore session

    /// Cancelled when the server should stop (SHUTDOWN, SIGTERM, Ctrl+C).
    member _.ShutdownRequested = shutdown.Token

    /// Asks for a clean stop, as SIGTERM does.
    member _.RequestShutdown() : unit = shutdown.Cancel()

    /// Flushes what must be flushed, removes the pidfile, logs the goodbye. Idempotent.
    member _.Stop() : unit = ()
