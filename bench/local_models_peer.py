"""Python peers of crates/aae-local/examples/local_bench.rs, measured the same way, printing one
JSON object (run by bench/local_models.sh, which gives both sides the same files):

  llama  GGUF PROMPT_FILE THREADS TOKENS RUNS   llama-cpp-python on the same GGUF: prompt and
         generated tokens/s, greedy, exactly TOKENS generated (end of turn ignored), median of RUNS
  embed  MODEL_DIR SENTENCES_FILE THREADS RUNS  sentence-transformers on the same model directory:
         sentences/s (batch 32, normalised), median of RUNS
"""

import json
import statistics
import sys
import time


def llama(gguf, prompt_file, threads, tokens, runs):
    import llama_cpp

    prompt = open(prompt_file, encoding="utf-8").read()
    llm = llama_cpp.Llama(
        model_path=gguf,
        n_ctx=1024,
        n_batch=512,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    ids = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)

    def once():
        llm.reset()  # n_tokens = 0: no KV-cache prefix reuse between runs
        tokens_out = llm.generate(ids, temp=0.0, top_k=1, reset=True)
        started = time.perf_counter()
        next(tokens_out)  # evaluates the prompt, samples the first token
        first = time.perf_counter()
        for _ in range(tokens - 1):  # each: evaluate the previous token, sample the next
            next(tokens_out)
        done = time.perf_counter()
        tokens_out.close()
        return len(ids) / (first - started), (tokens - 1) / (done - first)

    once()  # warm-up
    results = [once() for _ in range(runs)]
    return {
        "threads": threads,
        "prompt_tokens": len(ids),
        "generated_tokens": tokens,
        "prompt_tokens_per_s": round(statistics.median(r[0] for r in results), 1),
        "generated_tokens_per_s": round(statistics.median(r[1] for r in results), 1),
        "engine": f"llama-cpp-python {llama_cpp.__version__}",
    }


def embed(model_dir, sentences_file, threads, runs):
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    sentences = open(sentences_file, encoding="utf-8").read().splitlines()
    model = SentenceTransformer(model_dir, device="cpu")
    model.encode(sentences[:32], batch_size=32, normalize_embeddings=True)  # warm-up
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        vectors = model.encode(sentences, batch_size=32, normalize_embeddings=True)
        rates.append(len(vectors) / (time.perf_counter() - started))
    return {
        "sentences": len(sentences),
        "batch_size": 32,
        "threads": threads,
        "sentences_per_s": round(statistics.median(rates), 1),
        "engine": f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}",
    }


def main():
    kind, args = sys.argv[1], sys.argv[2:]
    if kind == "llama":
        out = llama(args[0], args[1], int(args[2]), int(args[3]), int(args[4]))
    elif kind == "embed":
        out = embed(args[0], args[1], int(args[2]), int(args[3]))
    else:
        sys.exit(f"unknown peer {kind}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
