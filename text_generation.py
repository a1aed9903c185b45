"""The course's text_generation.py, in plain vLLM (the lesson's starting point).

It follows vLLM's examples/offline_inference/basic/generate.py: every engine option
from EngineArgs, a "Sampling parameters" group, and the model's own sampling defaults
changed only where the user gave a value. `vlesson generate` is this script with the
lesson's extras (offline model, --config, --prompt, --output, validation).

    python text_generation.py --help
    python text_generation.py --model facebook/opt-125m --temperature 0.8
"""

from vllm import LLM, EngineArgs
from vllm.utils.argparse_utils import FlexibleArgumentParser

PROMPTS = [
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
]
SAMPLING = ("max_tokens", "temperature", "top_p", "top_k")


def create_parser() -> FlexibleArgumentParser:
    parser = FlexibleArgumentParser()
    EngineArgs.add_cli_args(parser)  # --model, --dtype, --gpu-memory-utilization, ...
    parser.set_defaults(model="facebook/opt-125m")
    group = parser.add_argument_group("Sampling parameters")
    group.add_argument("--max-tokens", type=int)
    group.add_argument("--temperature", type=float)
    group.add_argument("--top-p", type=float)
    group.add_argument("--top-k", type=int)
    return parser


def main(args: dict) -> None:
    sampling = {name: args.pop(name) for name in SAMPLING}
    llm = LLM(**args)
    params = llm.get_default_sampling_params()  # the model's own defaults...
    for name, value in sampling.items():
        if value is not None:  # ...changed only where the user gave a value
            setattr(params, name, value)

    print(
        f"model={args['model']} tokenizer={args.get('tokenizer')} "
        f"gpu_memory_utilization={args.get('gpu_memory_utilization')}"
    )
    print({name: getattr(params, name) for name in SAMPLING})
    for output in llm.generate(PROMPTS, params):
        print(f"Prompt: {output.prompt!r}\nGenerated: {output.outputs[0].text!r}\n")


if __name__ == "__main__":  # the engine may start a child process
    main(vars(create_parser().parse_args()))
