"""LangChain's standard params (what LangSmith traces record) for the local chat models: the spec is the model name,
and stops given to the constructor are reported with the call's own (langchain-tests' test_standard_params)."""

from __future__ import annotations


def test_the_local_chat_model_reports_its_standard_params(local_model):
    params = local_model._get_ls_params(stop=["\nObservation:"])
    assert params["ls_provider"] == "apprentice" and params["ls_model_name"] == "local"
    assert params["ls_model_type"] == "chat" and params["ls_temperature"] == 0.0
    assert params["ls_stop"] == ["\nObservation:"] and params["ls_max_tokens"] == 128
    with_stop = local_model.model_copy(update={"stop": ["END"]})
    assert with_stop._get_ls_params()["ls_stop"] == ["END"]
    assert with_stop._get_ls_params(stop=["X"], model="other")["ls_stop"] == ["END", "X"]
    assert with_stop._get_ls_params(model="other")["ls_model_name"] == "other"
