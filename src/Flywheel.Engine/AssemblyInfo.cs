// Flywheel.Engine: the model runtime, tokenizer, scheduler and sampler. No ASP.NET here.
