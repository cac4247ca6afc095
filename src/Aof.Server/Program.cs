// PLACEHOLDER: the host helper writes the socket host here.
Console.WriteLine("Aof host not written yet");
return 0;
