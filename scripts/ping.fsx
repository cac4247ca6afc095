// Example client: sends PING to a Redis-compatible server and prints the reply.
// Usage: dotnet fsi scripts/ping.fsx [port]   (default 6379 on 127.0.0.1)
open System.Net.Sockets
open System.Text

let port = match fsi.CommandLineArgs with [| _; p |] -> int p | _ -> 6379
let client = new TcpClient("127.0.0.1", port)
let stream = client.GetStream()
// Commands are RESP arrays of bulk strings: *<count>, then $<length> and the bytes of each argument.
stream.Write(Encoding.ASCII.GetBytes "*1\r\n$4\r\nPING\r\n")
let buffer = Array.zeroCreate<byte> 512
let n = stream.Read(buffer, 0, buffer.Length)
printfn "%s" ((Encoding.UTF8.GetString(buffer, 0, n)).TrimEnd()) // +PONG
client.Dispose()
